import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Objm } from "@nats-io/obj";
import { pino } from "pino";
import { Client } from "../../src/client/client.js";
import { packValue } from "../../src/events/codec.js";
import type { Instance } from "../../src/service.js";
import { container, startInstance, startTestServer, type TestServer } from "../helpers/nats.js";

/** A logger that records messages, to see how an instance started. */
function recordingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

/** JSON of a record with binary values as base64, whatever their class. */
function json(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner instanceof Uint8Array) return Buffer.from(inner).toString("base64");
    if (inner && typeof inner === "object" && (inner as { type?: string }).type === "Buffer") {
      return Buffer.from((inner as { data: number[] }).data).toString("base64");
    }
    return inner;
  });
}

function dump(instance: Instance) {
  const out: Record<string, unknown> = {};
  for (const [name, namespace] of instance.projection.state.namespaces) {
    out[name] = {
      labels: { ...namespace.labels },
      containers: [...namespace.containers.values()].map(json).sort(),
      images: [...namespace.images.keys()].sort(),
      leases: [...namespace.leases.values()].map((lease) => [lease.id, [...lease.resources.content].sort()]),
      snapshots: [...namespace.snapshots].map(([snapshotter, records]) => [snapshotter, [...records.keys()].sort()]),
      children: [...namespace.snapshotChildren].map(([snapshotter, parents]) => [snapshotter, [...parents].map(([p, c]) => [p, [...c].sort()])]),
    };
  }
  return out;
}

describe("view snapshots", () => {
  let nats: TestServer;
  let client: Client;
  before(async () => {
    nats = await startTestServer();
    client = await Client.connect({ servers: nats.url });
  });
  after(async () => {
    await client?.close();
    await nats?.close();
  });

  it("restart loads the snapshot and replays the tail", async () => {
    const first = await startInstance(nats.url, { snapshotEvery: 0 });
    let snapshotSeq = 0;
    let rebuilt: ReturnType<typeof dump>;
    try {
      await client.namespaces.create({ name: "snap", labels: { team: "a" } });
      for (let i = 0; i < 300; i++) await client.containers.create(container(`c-${i}`, { labels: { i: String(i) } }), { namespace: "snap" });
      await client.snapshots.prepare({ snapshotter: "native", key: "base" }, { namespace: "snap" });
      await client.snapshots.commit({ snapshotter: "native", name: "base-c", key: "base" }, { namespace: "snap" });
      await client.snapshots.prepare({ snapshotter: "native", key: "child", parent: "base-c" }, { namespace: "snap" });
      // A container keeps the snapshots from garbage collection.
      await client.containers.create(container("uses-child", { snapshotter: "native", snapshotKey: "child" }), { namespace: "snap" });
      await client.leases.create({ id: "l1" }, { namespace: "snap" });
      await client.call("containers", "create", { container: container("before-snapshot") }, { namespace: "snap", requestId: "req-before" });
      await first.snapshots.write();
      snapshotSeq = first.snapshots.last!.seq;
      for (let i = 0; i < 20; i++) await client.containers.delete(`c-${i}`, { namespace: "snap" });
      rebuilt = dump(first);
    } finally {
      await first.close();
    }

    const { logger, lines } = recordingLogger();
    const second = await startInstance(nats.url, { logger, snapshotEvery: 0 });
    try {
      const restored = lines.find((line) => line.msg === "view restored from snapshot");
      assert.equal(restored?.seq, snapshotSeq);
      assert.deepEqual(dump(second), rebuilt!);
      // Indexes came back too: a write expects the right sequence, and a retry is recognised.
      await client.containers.update({ id: "c-100", image: "x" }, ["image"], { namespace: "snap" });
      const retry = await client.call("containers", "create", { container: container("before-snapshot") }, { namespace: "snap", requestId: "req-before" });
      assert.equal((retry.body.container as { id: string }).id, "before-snapshot");
      await assert.rejects(client.snapshots.remove("native", "base-c", { namespace: "snap" }), { kind: "FailedPrecondition" });
    } finally {
      await second.close();
    }

    const fresh = await startInstance(nats.url, { useSnapshot: false, snapshotEvery: 0 });
    const again = await startInstance(nats.url, { snapshotEvery: 0 });
    try {
      assert.deepEqual(dump(again), dump(fresh), "snapshot plus tail equals a full rebuild");
    } finally {
      await again.close();
      await fresh.close();
    }
  });

  it("a snapshot of another format is ignored", async () => {
    const store = await new Objm(client.nc).open("ctrmeta-projections");
    await store.putBlob({ name: "projection" }, Buffer.concat([packValue({ kind: "ctrmeta-projection", format: 0, seq: 3 }), packValue(["end", 0])]));
    const { logger, lines } = recordingLogger();
    const instance = await startInstance(nats.url, { logger, snapshotEvery: 0 });
    try {
      const ignored = lines.find((line) => line.msg === "ignoring view snapshot, rebuilding from the log");
      assert.match(String(ignored?.reason), /snapshot format 0, this version reads format 1/);
      assert.ok(instance.projection.state.namespaces.get("snap")!.containers.has("c-299"));
    } finally {
      await instance.close();
    }
  });

  it("the elected instance writes snapshots as the log grows", async () => {
    const instance = await startInstance(nats.url, { snapshotEvery: 50 });
    try {
      for (let deadline = Date.now() + 10_000; !instance.gc.isLeader && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      for (let i = 0; i < 60; i++) await client.containers.create(container(`auto-${i}`), { namespace: "auto" });
      for (let deadline = Date.now() + 10_000; !instance.snapshots.last && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      assert.ok(instance.snapshots.last, "a snapshot was written");
    } finally {
      await instance.close();
    }
  });
});
