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
      namespaces: { matched: 26, differed: 0, skipped: 0 },
      leases: { matched: 33, differed: 0, skipped: 0 },
      content: { matched: 97, differed: 0, skipped: 78 },
      images: { matched: 27, differed: 0, skipped: 0 },
      snapshots: { matched: 26, differed: 0, skipped: 6 },
      diff: { matched: 0, differed: 0, skipped: 2 },
      containers: { matched: 30, differed: 0, skipped: 0 },
      tasks: { matched: 0, differed: 0, skipped: 8 },
    });
  });

  it("differs nowhere", () => {
    assert.deepEqual(report.calls.filter((call) => call.status === "DIFF").map((call) => `#${call.seq} ${call.method}: ${call.detail}`), []);
    assert.deepEqual(report.state.filter((item) => item.status === "DIFF").map((item) => `${item.kind} ${item.label}: ${item.detail}`), []);
    assert.deepEqual(report.events.filter((event) => event.status === "DIFF").map((event) => `${event.label} ${event.topic}: ${event.detail}`), []);
  });

  it("matches the records GC removed", () => {
    // The synchronous GC of `images rm --sync` emptied fx-ci, so deleting it succeeds.
    const deleteCi = report.calls.find((call) => call.seq === 327);
    assert.equal(deleteCi?.status, "ok", deleteCi?.detail);
    const namespaces = report.state.filter((item) => item.kind === "namespaces");
    assert.deepEqual(namespaces.map((item) => `${item.label} ${item.status}`), ["fx-apps ok"]);
  });

  it("applies the documented departures", () => {
    assert.equal(report.departures.length, 3);
    assert.equal(report.departures[0]!.labels.length, 8);
    assert.equal(report.departures[1]!.labels.length, 15);
    // Removals made by GC are notifications containerd 1.6 does not publish.
    assert.equal(report.departures[2]!.labels.length, 7);
  });

  it("prints the summary line", () => {
    assert.equal(
      report.summaryLine,
      "calls: 239 matched, 0 differed, 94 skipped; state: 25 matched, 0 differed; events: 55 matched, 0 differed, 7 extra from GC allowed",
    );
    assert.equal(report.differed, false);
  });
});
