import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { containerRecord } from "../../bench/lib/log-writer.js";
import { Client } from "../../src/client/client.js";
import { ENVELOPE_VERSION } from "../../src/events/codec.js";
import { EVENT_VERSIONS } from "../../src/events/upcast.js";
import { EventStore } from "../../src/nats/event-store.js";
import { Layout } from "../../src/nats/subjects.js";
import { container, startInstance, startStack, type Stack } from "../helpers/nats.js";

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

describe("duplicate of another request", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.close();
  });

  it("fails instead of succeeding", async () => {
    // A log event whose message id is one request id while its envelope names
    // another, so JetStream reports the first request as a duplicate of it.
    const nc = await connect({ servers: stack.nats.url });
    try {
      const layout = new Layout();
      const store = new EventStore(jetstream(nc), await jetstreamManager(nc), layout);
      const record = containerRecord("forged", 0);
      const forged = await store.append({
        subject: layout.aggregateSubject("default", { kind: "container", key: "forged" }),
        envelope: {
          v: ENVELOPE_VERSION,
          ev: EVENT_VERSIONS["container.created"],
          ns: "default",
          time: record.createdAt,
          req: "req-other",
          event: { type: "container.created", container: record },
        },
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
    } finally {
      await nc.close();
    }
  });
});
