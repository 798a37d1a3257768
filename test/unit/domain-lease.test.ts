import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandMeta } from "../../src/domain/decision.js";
import { decideCreateLease } from "../../src/domain/lease.js";
import { newNamespaceState } from "../../src/domain/state.js";

const meta: CommandMeta = { namespace: "default", now: "2024-01-01T00:00:00.000000000Z", requestId: "r1" };

describe("lease label keys", () => {
  it("create rejects an empty key with a value", () => {
    assert.throws(() => decideCreateLease(undefined, { id: "pull", labels: { "": "x" } }, meta, ""), {
      message: 'lease.Labels: label key "" must not be empty (value "x"): invalid argument',
    });
  });

  it("create drops an empty key without a value", () => {
    const { result } = decideCreateLease(undefined, { id: "pull", labels: { "": "", app: "web" } }, meta, "");
    assert.deepEqual({ ...result.labels }, { app: "web" });
  });

  it("duplicate id is reported first", () => {
    const namespace = newNamespaceState("default");
    namespace.leases.set("pull", { ...decideCreateLease(undefined, { id: "pull" }, meta, "").result });
    assert.throws(() => decideCreateLease(namespace, { id: "pull", labels: { "": "x" } }, meta, ""), { name: "AlreadyExistsError" });
  });

  it("labels stay free of size limits", () => {
    const { result } = decideCreateLease(undefined, { id: "pull", labels: { notes: "n".repeat(5000) } }, meta, "");
    assert.equal(result.labels.notes?.length, 5000);
  });
});
