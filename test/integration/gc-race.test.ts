/**
 * Garbage collection racing writers: a reference committed before a removal keeps
 * its object; a removal committed first may take it. Each round checks that against
 * the log order (the revisions of the reference and of the removal).
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Msg } from "@nats-io/nats-core";
import { Client } from "../../src/client/client.js";
import { SOURCE_SEQ_HEADER, type NotificationEnvelope } from "../../src/events/notifier.js";
import { container, startStack, type Stack } from "../helpers/nats.js";

const ROUNDS = 1000;
const BATCH = 25;
const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

function digestOf(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

describe("gc racing writers", () => {
  let stack: Stack;
  let writer: Client;
  /** Digest → log sequence of the collection that removed it. */
  const removedAt = new Map<string, number>();
  before(async () => {
    // No collections by mutation count: the tests run their own.
    stack = await startStack({ gc: { mutationThreshold: 0 } });
    writer = await Client.connect({ servers: stack.nats.url });
    stack.client.nc.subscribe("ctrmeta.topic.*.content.delete", {
      callback: (_error: Error | null, msg: Msg) => {
        const envelope = JSON.parse(new TextDecoder().decode(msg.data)) as NotificationEnvelope;
        const value = envelope.event.value as { digest: string; gc?: boolean };
        if (value.gc) removedAt.set(`${envelope.namespace}/${value.digest}`, Number(msg.headers?.get(SOURCE_SEQ_HEADER)));
      },
    });
  });
  after(async () => {
    await writer?.close();
    await stack?.close();
  });

  it("a thousand rounds without violations", async (t) => {
    const { client } = stack;
    const counts = { rounds: 0, violations: 0, keptByReference: 0, removedBeforeReference: 0, collections: 0, skippedAtApply: 0 };
    const violations: string[] = [];

    for (let batch = 0; batch < ROUNDS / BATCH; batch++) {
      const namespace = `race-${batch}`;
      const lease = await writer.leases.create({ id: `lease-${batch}` }, { namespace });
      const digests = Array.from({ length: BATCH }, (_, i) => digestOf(`race-${process.pid}-${batch}-${i}`));
      await Promise.all(digests.map((digest) => writer.content.commit({ digest, size: 1 }, { namespace })));

      // References and collections in flight together: even rounds reference the blob
      // from an image, odd rounds from the lease. Each reply carries the log
      // sequence of the event that made the reference.
      const references = digests.map(async (digest, i) => {
        const reply =
          i % 2 === 0
            ? await writer.call("images", "create", { image: { name: `img-${i}`, target: { mediaType: MANIFEST, digest, size: 1 } } }, { namespace })
            : await writer.call("leases", "addResource", { id: lease.id, resource: { id: digest, type: "content" } }, { namespace });
        return reply.revision!;
      });
      const collections = [0, 1, 2].map(() => client.gc.collect());
      const referenceRevisions = await Promise.all(references);
      for (const stats of await Promise.all(collections)) {
        counts.collections++;
        counts.skippedAtApply += stats.skipped;
      }

      await stack.instance.notificationsIdle();
      await stack.client.nc.flush();
      for (const [i, digest] of digests.entries()) {
        counts.rounds++;
        const exists = await client.content.info(digest, { namespace }).then(() => true, () => false);
        const removal = removedAt.get(`${namespace}/${digest}`);
        const referenced = referenceRevisions[i]!;
        if (exists) {
          counts.keptByReference++;
        } else if (removal !== undefined && removal < referenced) {
          counts.removedBeforeReference++;
        } else {
          counts.violations++;
          violations.push(`${namespace} ${digest}: removed at ${removal}, referenced at ${referenced}`);
        }
      }
    }

    t.diagnostic(JSON.stringify(counts));
    assert.equal(counts.rounds, ROUNDS);
    assert.deepEqual(violations, []);
    assert.ok(counts.keptByReference > 0, "some references won");
  });

  it("commands keep flowing during a large sweep", async (t) => {
    const { client } = stack;
    const namespace = "sweep";
    const garbage = 20_000;
    const digests = Array.from({ length: garbage }, (_, i) => digestOf(`sweep-${process.pid}-${i}`));
    for (let start = 0; start < garbage; start += 256) {
      await Promise.all(digests.slice(start, start + 256).map((digest) => writer.content.commit({ digest, size: 1 }, { namespace })));
    }

    const baseline: number[] = [];
    for (let i = 0; i < 200; i++) {
      const started = performance.now();
      await writer.containers.create(container(`base-${i}`), { namespace: "latency" });
      baseline.push(performance.now() - started);
    }

    const during: Array<{ start: number; end: number }> = [];
    const gcStart = performance.now();
    let gcEnd = 0;
    const sweep = client.gc.collect().then((stats) => {
      gcEnd = performance.now();
      return stats;
    });
    for (let i = 0; gcEnd === 0; i++) {
      const start = performance.now();
      await writer.containers.create(container(`during-${i}`), { namespace: "latency" });
      during.push({ start, end: performance.now() });
    }
    const stats = await sweep;

    const overlapping = during.filter((item) => item.end <= gcEnd && item.start >= gcStart);
    const latencies = during.map((item) => item.end - item.start);
    t.diagnostic(
      JSON.stringify({
        removed: stats.removed.content,
        gcMs: Math.round(gcEnd - gcStart),
        commandsDuringGc: overlapping.length,
        baselineP50: percentile(baseline, 50).toFixed(2),
        baselineP99: percentile(baseline, 99).toFixed(2),
        duringP50: percentile(latencies, 50).toFixed(2),
        duringP99: percentile(latencies, 99).toFixed(2),
        duringMax: Math.max(...latencies).toFixed(2),
      }),
    );
    const left = await client.content.list([], { namespace });
    assert.equal(left.length, 0, `${left.length} unreferenced records left after the sweep`);
    assert.ok(stats.removed.content > garbage / 2, `the sweep itself removed only ${stats.removed.content}`);
    assert.ok(overlapping.length >= 2, `only ${overlapping.length} commands completed while the sweep ran`);
    assert.ok(Math.max(...latencies) < gcEnd - gcStart, "no command waited for the whole sweep");
  });
});
