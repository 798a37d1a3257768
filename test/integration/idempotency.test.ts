import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connect } from "@nats-io/transport-node";
import { containerRecord } from "../../bench/lib/log-writer.js";
import { Client } from "../../src/client/client.js";
import { encodeEnvelope, ENVELOPE_VERSION, type Envelope } from "../../src/events/codec.js";
import { EVENT_VERSIONS } from "../../src/events/upcast.js";
import { EventStore } from "../../src/nats/event-store.js";
import { applyObjectStore, loadDefinition, type ObjectStoreDefinition } from "../../src/nats/streams.js";
import { readSnapshot, writeSnapshot } from "../../src/projections/snapshot.js";
import { Layout } from "../../src/nats/subjects.js";
import { runInstance, type Instance } from "../../src/service.js";
import { container, quietLogger, startInstance, startStack, startTestServer, type Stack } from "../helpers/nats.js";

/** Build the envelope of a container's creation by request `requestId`. */
function createdEnvelope(id: string, requestId: string): Envelope {
  const record = containerRecord(id, 0);
  return {
    v: ENVELOPE_VERSION,
    ev: EVENT_VERSIONS["container.created"],
    ns: "default",
    time: record.createdAt,
    req: requestId,
    event: { type: "container.created", container: record },
  };
}

describe("retried requests", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.close();
  });

  it("a retried create returns the original", async () => {
    const first = await stack.client.call("containers", "create", { container: container("once") }, { requestId: "req-create-1" });
    const retry = await stack.client.call("containers", "create", { container: container("once") }, { requestId: "req-create-1" });
    assert.deepEqual(retry.body, first.body);
    assert.equal(retry.revision, first.revision);
    // A new request for the same id is a new command.
    const again = await stack.client.call("containers", "create", { container: container("once") }, { requestId: "req-create-2" }).catch((e: Error) => e);
    assert.equal((again as { kind?: string }).kind, "AlreadyExists");
  });

  it("a retried delete succeeds again", async () => {
    await stack.client.containers.create(container("gone"));
    await stack.client.call("containers", "delete", { id: "gone" }, { requestId: "req-delete-1" });
    const retry = await stack.client.call("containers", "delete", { id: "gone" }, { requestId: "req-delete-1" });
    assert.deepEqual(retry.body, {});
  });

  it("concurrent retries append once", async () => {
    const clients = await Promise.all([1, 2, 3, 4].map(() => Client.connect({ servers: stack.nats.url })));
    try {
      const replies = await Promise.all(
        clients.map((client) => client.call("images", "create", { image: { name: "racing:1", target: { mediaType: "m", digest: `sha256:${"d".repeat(64)}`, size: 1 } } }, { requestId: "req-image-1" })),
      );
      for (const reply of replies) assert.equal(reply.revision, replies[0]!.revision);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it("retry after a restart still matches", async () => {
    const first = await stack.client.call("leases", "create", { id: "lease-r" }, { requestId: "req-lease-1" });
    const second = await startInstance(stack.nats.url, { gc: false });
    await stack.instance.close();
    try {
      // Only the restarted instance serves now; it rebuilt the request index from the log.
      const retry = await stack.client.call("leases", "create", { id: "lease-r" }, { requestId: "req-lease-1" });
      assert.deepEqual(retry.body, first.body);
      assert.equal(retry.revision, first.revision);
    } finally {
      await second.close();
    }
  });
});

describe("log that disagrees with a reply", () => {
  let stack: Stack;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let store: EventStore;
  const layout = new Layout();
  const containerSubject = (id: string) => layout.aggregateSubject("default", { kind: "container", key: id });
  before(async () => {
    stack = await startStack();
    nc = await connect({ servers: stack.nats.url });
    jsm = await jetstreamManager(nc);
    store = new EventStore(jetstream(nc), jsm, layout);
  });
  after(async () => {
    await nc?.close();
    await stack?.close();
  });

  it("duplicate of another request fails", async () => {
    // A log event whose message id is one request id while its envelope names
    // another, so JetStream reports the first request as a duplicate of it.
    const forged = await store.append({
      subject: containerSubject("forged"),
      envelope: createdEnvelope("forged", "req-other"),
      expectedSubjectSeq: 0,
      msgId: "req-victim",
    });

    const error = await stack.client.call("containers", "create", { container: container("victim") }, { requestId: "req-victim" }).catch((caught: Error) => caught);
    assert.equal((error as { kind?: string }).kind, "Unavailable");
    assert.match((error as Error).message, new RegExp(`duplicate of event ${forged.seq}, where the log has an event of request "req-other"`));
    const lookup = await stack.client.containers.get("victim").catch((caught: Error) => caught);
    assert.equal((lookup as { kind?: string }).kind, "NotFound");
    // With a new request id the create goes through.
    const created = await stack.client.call("containers", "create", { container: container("victim") }, { requestId: "req-victim-2" });
    assert.ok(created.revision! > forged.seq);
  });

  it("reply names the log's sequence", async () => {
    // This fakes JetStream acknowledging one sequence lower than it stored the event
    // at, as nats-server 2.9.10 did after leader changes in the fault tests.
    const commandStore = (stack.instance.commands as unknown as { store: EventStore }).store;
    const append = commandStore.append;
    commandStore.append = async (request) => {
      const ack = await append.call(commandStore, request);
      return { ...ack, seq: ack.seq - 1 };
    };
    try {
      const reply = await stack.client.call("containers", "create", { container: container("shifted") }, { requestId: "req-shifted" });
      const last = (await jsm.streams.info(layout.logStream)).state.last_seq;
      assert.equal(reply.revision, last);
      assert.equal((await store.read(last)).req, "req-shifted");
    } finally {
      commandStore.append = append;
    }
  });

  // This test runs last because it leaves the instance's view wrong.
  it("retry on a changed log fails", async () => {
    const next = (await jsm.streams.info(layout.logStream)).state.last_seq + 1;
    // The view applied request "req-lost" at `next`, delivered by a leader that then
    // lost it. The new leader took another request's event at the same sequence.
    stack.instance.projection.apply(next, containerSubject("lost"), encodeEnvelope(createdEnvelope("lost", "req-lost")));
    const other = await store.append({
      subject: containerSubject("other"),
      envelope: createdEnvelope("other", "req-other"),
      expectedSubjectSeq: 0,
      msgId: "req-other",
    });
    assert.equal(other.seq, next);

    const error = await stack.client.call("containers", "create", { container: container("lost") }, { requestId: "req-lost" }).catch((caught: Error) => caught);
    assert.equal((error as { kind?: string }).kind, "Unavailable");
    assert.match((error as Error).message, new RegExp(`records request "req-lost" at event ${next}, where the log has an event of request "req-other"`));
    // The consumer delivered the log's event at `next`, which the view counts.
    for (let attempt = 0; attempt < 50 && stack.instance.projection.divergences === 0; attempt++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(stack.instance.projection.divergences, 1);
  });
});

/** Resolve as `promise` does, or reject after `ms` milliseconds. */
async function within<T>(promise: Promise<T>, ms: number, awaited: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`waiting for ${awaited} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe("runInstance after the log changed", () => {
  it("rebuilds the view from the log", async () => {
    const nats = await startTestServer();
    const nc = await connect({ servers: nats.url });
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => {
      stop = resolve;
    });
    let next!: (instance: Instance) => void;
    let started = new Promise<Instance>((resolve) => {
      next = resolve;
    });
    const running = runInstance({ servers: nats.url, logger: quietLogger, gc: false }, stopped, (instance) => next(instance));
    try {
      const first = await started;
      started = new Promise<Instance>((resolve) => {
        next = resolve;
      });
      const layout = new Layout();
      const jsm = await jetstreamManager(nc);
      const seq = (await jsm.streams.info(layout.logStream)).state.last_seq + 1;
      // The view applies an event the log then does not have at that sequence, and
      // (as the elected instance would) writes a snapshot that contains it.
      first.projection.apply(seq, layout.aggregateSubject("default", { kind: "container", key: "phantom" }), encodeEnvelope(createdEnvelope("phantom", "req-phantom")));
      const store = await applyObjectStore(nc, loadDefinition<ObjectStoreDefinition>("projections.json", layout));
      await writeSnapshot(store, first.projection);
      assert.equal((await readSnapshot(store))?.seq, seq);
      await new EventStore(jetstream(nc), jsm, layout).append({
        subject: layout.aggregateSubject("default", { kind: "container", key: "real" }),
        envelope: createdEnvelope("real", "req-real"),
        expectedSubjectSeq: 0,
        msgId: "req-real",
      });

      const second = await within(started, 20_000, "a second instance");
      assert.notEqual(second, first);
      const containers = second.projection.state.namespaces.get("default")!.containers;
      assert.equal(containers.has("real"), true);
      assert.equal(containers.has("phantom"), false);
      assert.equal(second.projection.divergences, 0);
      // No instance may start from the snapshot of the diverged view, and that view
      // writes no other.
      assert.equal(await readSnapshot(store), undefined, "the diverged view's snapshot is removed");
      await first.snapshots.write();
      assert.equal(await readSnapshot(store), undefined, "a diverged view writes no snapshot");
    } finally {
      stop();
      await running;
      await nc.close();
      await nats.close();
    }
  });
});
