import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Envelope } from "../../src/events/codec.js";
import { checkHistory, type LogEntry, type OpRecord } from "../helpers/history.js";

function entry(seq: number, req: string, event: Envelope["event"]): LogEntry {
  return { seq, envelope: { v: 1, ev: 1, ns: "f", time: "t", req, event } };
}

function container(id: string, labels: Record<string, string>) {
  return { id, labels, image: "", runtime: { name: "r" }, snapshotter: "", snapshotKey: "", extensions: {}, sandbox: "", createdAt: "t", updatedAt: "t" };
}

function op(partial: Partial<OpRecord> & Pick<OpRecord, "op" | "id" | "requestId">): OpRecord {
  return { client: 0, start: 0, end: 0, outcome: "ok", attempts: 1, ...partial };
}

const LOG = [
  entry(1, "r1", { type: "container.created", container: container("a", { x: "1" }) }),
  entry(2, "r2", { type: "container.updated", container: container("a", { x: "2" }) }),
];

describe("history checker", () => {
  it("a clean history has no findings", () => {
    const records = [
      op({ op: "create", id: "a", requestId: "r1", revision: 1 }),
      op({ op: "label", id: "a", requestId: "r2", revision: 2 }),
      op({ op: "get", id: "a", requestId: "r3", revision: 2, labels: { x: "2" } }),
    ];
    const report = checkHistory(records, LOG, "f", new Set(["a"]));
    assert.deepEqual([report.lost, report.appliedTwice, report.inconsistentReads, report.invariantViolations], [[], [], [], []]);
    assert.equal(report.acknowledged, 3);
  });

  it("finds a lost acknowledged write", () => {
    const report = checkHistory([op({ op: "label", id: "a", requestId: "r9", revision: 5 })], LOG, "f", new Set(["a"]));
    assert.equal(report.lost.length, 1);
  });

  it("finds a request applied twice", () => {
    const log = [...LOG, entry(3, "r2", { type: "container.updated", container: container("a", { x: "2" }) })];
    assert.deepEqual(checkHistory([], log, "f", new Set(["a"])).appliedTwice, ["r2"]);
  });

  it("finds a stale read", () => {
    const records = [op({ op: "get", id: "a", requestId: "r3", revision: 2, labels: { x: "1" } })];
    assert.equal(checkHistory(records, LOG, "f", new Set(["a"])).inconsistentReads.length, 1);
  });

  it("finds a missing acknowledged create", () => {
    const records = [op({ op: "create", id: "a", requestId: "r1", revision: 1 })];
    assert.deepEqual(checkHistory(records, LOG, "f", new Set()).invariantViolations, ["created a is missing", "a is in the log's state but not in the view"]);
  });
});
