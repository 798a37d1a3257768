/**
 * Replays the recorded containerd 1.6.20 session in test/data/fixtures and pins
 * the outcome: every container call and event must match, and the counts of the
 * other kinds are fixed so that a regression (or a fix) shows up here.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { before, describe, it } from "node:test";
import { replayFixtures, type ReplayReport } from "../../src/runners/replay.js";

const FIXTURES = fileURLToPath(new URL("../../../test/data/fixtures", import.meta.url));

describe("replay of the recorded fixtures", () => {
  let report: ReplayReport;
  before(async () => {
    report = await replayFixtures(FIXTURES);
  });

  it("matches every container call", () => {
    const calls = report.calls.filter((call) => call.service === "containers");
    assert.equal(calls.length, 30);
    for (const call of calls) assert.equal(call.status, "ok", `#${call.seq} ${call.method}: ${call.detail}`);
  });

  it("matches every container event", () => {
    const events = report.events.filter((event) => event.topic.startsWith("/containers/"));
    assert.equal(events.length, 17);
    for (const event of events) assert.equal(event.kind, "matched", `${event.label} ${event.topic}: ${event.detail}`);
  });

  it("matches every container record", () => {
    const records = report.state.filter((item) => item.kind === "containers" || item.kind === "deleted containers");
    assert.equal(records.length, 8);
    for (const item of records) assert.equal(item.status, "ok", `${item.kind} ${item.label}: ${item.detail}`);
  });

  it("counts calls per service", () => {
    assert.deepEqual(report.summary.callsByService, {
      namespaces: { matched: 25, differed: 1, skipped: 0 },
      leases: { matched: 33, differed: 0, skipped: 0 },
      content: { matched: 97, differed: 0, skipped: 78 },
      images: { matched: 27, differed: 0, skipped: 0 },
      snapshots: { matched: 26, differed: 0, skipped: 6 },
      diff: { matched: 0, differed: 0, skipped: 2 },
      containers: { matched: 30, differed: 0, skipped: 0 },
      tasks: { matched: 0, differed: 0, skipped: 8 },
    });
  });

  it("differs only where GC is missing", () => {
    const differing = report.calls.filter((call) => call.status === "DIFF");
    assert.deepEqual(differing.map((call) => `#${call.seq} ${call.method} ${call.cause}`), ["#327 Namespaces/Delete gc"]);
    const state = report.state.filter((item) => item.status === "DIFF");
    assert.equal(state.length, 8);
    for (const item of state) assert.equal(item.cause, "gc", `${item.kind} ${item.label}: ${item.detail}`);
  });

  it("pins the event differences", () => {
    const differing = report.events.filter((event) => event.status === "DIFF");
    const missing = differing.filter((event) => event.kind === "missing");
    assert.deepEqual(missing.map((event) => `${event.label} ${event.topic} ${event.cause}`), ["#52 /namespaces/delete gc"]);
    // ctrmeta names image events containerd.events.*; containerd uses containerd.services.images.v1.*.
    const typeUrl = differing.filter((event) => event.kind === "differs");
    assert.equal(typeUrl.length, 13);
    for (const event of typeUrl) {
      assert.ok(event.topic.startsWith("/images/"), `${event.label} ${event.topic}`);
      assert.match(event.detail, /^typeUrl: expected "containerd\.services\.images\.v1\./);
    }
    assert.equal(differing.length, 14);
  });

  it("applies the documented departures", () => {
    assert.equal(report.departures.length, 2);
    assert.equal(report.departures[0]!.labels.length, 8);
    assert.equal(report.departures[1]!.labels.length, 15);
  });

  it("prints the summary line", () => {
    assert.equal(
      report.summaryLine,
      "calls: 238 matched, 1 differed (1 probably GC), 94 skipped; state: 25 matched, 8 differed (8 probably GC); " +
        "events: 41 matched, 14 differed (1 probably GC)",
    );
    assert.equal(report.differed, true);
  });
});
