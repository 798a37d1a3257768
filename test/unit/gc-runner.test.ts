import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { pino } from "pino";
import type { CommandHandler } from "../../src/commands/handler.js";
import { Unavailable } from "../../src/domain/errors.js";
import { SystemClock } from "../../src/domain/time.js";
import { encodeEnvelope } from "../../src/events/codec.js";
import { GcRunner } from "../../src/gc/runner.js";
import { Projection } from "../../src/projections/projection.js";

/** A projection holding one unreferenced content record, so a collection has work. */
function projectionWithGarbage(): Projection {
  const projection = new Projection();
  const info = { digest: `sha256:${"c".repeat(64)}`, size: 1, labels: {}, createdAt: "2026-01-01T00:00:00.000000000Z", updatedAt: "2026-01-01T00:00:00.000000000Z" };
  const data = encodeEnvelope({ v: 1, ev: 1, ns: "default", time: info.createdAt, req: "r", event: { type: "content.committed", info } });
  projection.apply(1, "ctrmeta.log.cnt.default.x", data);
  return projection;
}

function runner(commands: Pick<CommandHandler, "execute">): GcRunner {
  return new GcRunner({
    // The consumer is only used by start(), which these tests do not call.
    js: undefined as never,
    logStream: "CTRMETA_LOG",
    consumerName: "ctrmeta-gc",
    projection: projectionWithGarbage(),
    commands: commands as CommandHandler,
    clock: new SystemClock(),
    log: pino({ level: "silent" }),
    config: { startupDelayMs: 0 },
  });
}

describe("gc runner", () => {
  it("failure reaches the waiting caller", async () => {
    const failing = runner({
      execute: async () => {
        throw new Unavailable("appending to CTRMETA_LOG failed");
      },
    });
    try {
      const error = await failing.trigger().catch((caught: unknown) => caught);
      assert.equal((error as { kind: string }).kind, "Unknown");
      assert.match((error as Error).message, /^gc failed: appending to CTRMETA_LOG failed/);
      const status = failing.status();
      assert.equal(status.failures, 1);
      assert.match(status.lastError ?? "", /appending to CTRMETA_LOG failed/);
    } finally {
      await failing.stop();
    }
  });

  it("waiters after stop are refused", async () => {
    const stopped = runner({ execute: async () => ({ result: undefined, revision: 2 }) as never });
    await stopped.stop();
    await assert.rejects(stopped.trigger(), (error: Error) => (error as { kind?: string }).kind === "Unavailable");
  });

  it("success answers with stats", async () => {
    const succeeding = runner({ execute: async () => ({ result: undefined, revision: 2, verdict: { notifications: [], outcome: { removed: [{ namespace: "default", kind: "content", key: "x" }], skipped: 0 } } }) as never });
    try {
      const stats = await succeeding.trigger();
      assert.equal(stats.candidates, 1);
      assert.deepEqual(stats.removed, { content: 1, snapshots: 0, leases: 0 });
      assert.equal(succeeding.status().collections, 1);
    } finally {
      await succeeding.stop();
    }
  });
});
