import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { Msg } from "@nats-io/nats-core";
import { NotFound } from "../../src/domain/errors.js";
import { SOURCE_SEQ_HEADER, type NotificationEnvelope } from "../../src/events/notifier.js";
import { container, startStack, type Stack } from "../helpers/nats.js";

let blobCounter = 0;
function digestOf(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}
/** A fresh digest, as if a node agent had written a new blob. */
function newDigest(): string {
  return digestOf(`blob-${process.pid}-${blobCounter++}`);
}

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";

describe("garbage collection", () => {
  let stack: Stack;
  const removedByGc: Array<{ topic: string; value: Record<string, unknown>; seq: number }> = [];
  before(async () => {
    stack = await startStack();
    stack.client.nc.subscribe("ctrmeta.topic.>", {
      callback: (_error: Error | null, msg: Msg) => {
        const envelope = JSON.parse(new TextDecoder().decode(msg.data)) as NotificationEnvelope;
        const value = envelope.event.value as Record<string, unknown>;
        if (value.gc === true) removedByGc.push({ topic: envelope.topic, value, seq: Number(msg.headers?.get(SOURCE_SEQ_HEADER)) });
      },
    });
  });
  after(async () => {
    await stack?.close();
  });

  it("sync image delete collects its blobs", async () => {
    const { client } = stack;
    const layer = newDigest();
    const manifest = newDigest();
    await client.content.commit({ digest: layer, size: 10 });
    await client.content.commit({ digest: manifest, size: 5, labels: { "containerd.io/gc.ref.content.l.0": layer } });
    await client.images.create({ name: "docker.io/x/y:1", target: { mediaType: MANIFEST, digest: manifest, size: 5 } });
    await client.gc.collect();
    assert.equal((await client.content.info(layer)).digest, layer, "a referenced layer survives");

    const reply = await client.images.delete("docker.io/x/y:1", true);
    const stats = reply.gc as { removed: { content: number } };
    assert.ok(stats.removed.content >= 2, JSON.stringify(stats));
    await assert.rejects(client.content.info(layer), NotFound);
    await assert.rejects(client.content.info(manifest), NotFound);

    await stack.instance.notificationsIdle();
    await stack.client.nc.flush();
    const deleted = removedByGc.filter((item) => item.topic === "/content/delete").map((item) => item.value.digest);
    assert.ok(deleted.includes(layer));
    assert.ok(deleted.includes(manifest));
  });

  it("sync lease delete collects leased snapshots", async () => {
    const { client } = stack;
    const lease = await client.leases.create({ id: "unpack-1" });
    await client.snapshots.prepare({ snapshotter: "overlayfs", key: "layer-a" }, { lease: lease.id });
    await client.snapshots.commit({ snapshotter: "overlayfs", name: "layer-a-done", key: "layer-a" }, { lease: lease.id });
    await client.snapshots.prepare({ snapshotter: "overlayfs", key: "layer-b", parent: "layer-a-done" }, { lease: lease.id });
    assert.deepEqual(await client.leases.listResources(lease.id), [
      { id: "layer-a-done", type: "snapshots/overlayfs" },
      { id: "layer-b", type: "snapshots/overlayfs" },
    ]);

    const reply = await client.leases.delete(lease.id, true);
    assert.equal((reply.gc as { removed: { snapshots: number } }).removed.snapshots, 2);
    assert.deepEqual(await client.snapshots.list("overlayfs"), []);
  });

  it("container keeps its snapshot chain", async () => {
    const { client } = stack;
    await client.snapshots.prepare({ snapshotter: "native", key: "base" }, { namespace: "keep" });
    await client.snapshots.commit({ snapshotter: "native", name: "base-c", key: "base" }, { namespace: "keep" });
    await client.snapshots.prepare({ snapshotter: "native", key: "ctr-1", parent: "base-c" }, { namespace: "keep" });
    await client.containers.create(container("ctr-1", { snapshotter: "native", snapshotKey: "ctr-1" }), { namespace: "keep" });
    await client.gc.collect();
    assert.deepEqual((await client.snapshots.list("native", [], { namespace: "keep" })).map((s) => s.name), ["base-c", "ctr-1"]);

    const explanation = await client.gc.explain("snapshot", "base-c", "native", { namespace: "keep" });
    assert.equal(explanation.reachable, true);
    assert.deepEqual(
      explanation.chain.map((node) => `${node.kind}:${node.key}`),
      ["container:ctr-1", "snapshot:ctr-1", "snapshot:base-c"],
    );

    await client.containers.delete("ctr-1", { namespace: "keep" });
    await client.gc.collect();
    assert.deepEqual(await client.snapshots.list("native", [], { namespace: "keep" }), []);
    // The namespace can go once GC emptied it.
    await client.namespaces.delete("keep");
  });

  it("explain reports unreferenced content", async () => {
    const digest = newDigest();
    await stack.client.content.commit({ digest, size: 1, labels: { "containerd.io/gc.root": "true" } });
    const kept = await stack.client.gc.explain("content", digest);
    assert.deepEqual(kept.chain.map((node) => node.key), [digest]);
    await stack.client.content.update({ digest, labels: {} }, ["labels"]);
    const garbage = await stack.client.gc.explain("content", digest);
    assert.equal(garbage.reachable, false);
    assert.deepEqual(garbage.chain, []);
  });

  it("status shows the scheduler", async () => {
    await stack.client.gc.collect();
    const status = await stack.client.gc.status();
    assert.equal(status.state, "waiting");
    assert.ok(Number(status.collections) >= 1);
    assert.equal((status.config as { mutationThreshold: number }).mutationThreshold, 100);
    assert.ok(status.lastStats);
  });

  it("a deletion schedules a collection", async () => {
    const digest = newDigest();
    await stack.client.content.commit({ digest, size: 1 });
    const image = { name: "scheduled:1", target: { mediaType: MANIFEST, digest, size: 1 } };
    await stack.client.images.create(image);
    await stack.client.gc.collect();
    const before = Number((await stack.client.gc.status()).collections);
    await stack.client.images.delete(image.name);
    // The durable consumer counts the deletion; the next tick collects the blob.
    for (let i = 0; i < 100; i++) {
      const gone = await stack.client.content.info(digest).then(() => false, () => true);
      if (gone) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await assert.rejects(stack.client.content.info(digest), NotFound);
    assert.ok(Number((await stack.client.gc.status()).collections) > before);
  });
});
