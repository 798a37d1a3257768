import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import type { DeliveredEvent } from "../../src/client/events.js";
import { container, startStack, type Stack } from "../helpers/nats.js";

/** Take `count` events from a subscription, then stop it. */
async function take(iterator: AsyncGenerator<DeliveredEvent>, count: number): Promise<DeliveredEvent[]> {
  const out: DeliveredEvent[] = [];
  if (count === 0) return out;
  for await (const event of iterator) {
    out.push(event);
    if (out.length === count) break;
  }
  return out;
}

describe("event subscriptions", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ gc: false });
    await stack.client.containers.create(container("s-1"), { namespace: "sub-a" });
    await stack.client.containers.create(container("s-2"), { namespace: "sub-b" });
    await stack.client.images.create({ name: "i:1", target: { mediaType: "m", digest: `sha256:${"e".repeat(64)}`, size: 1 } }, { namespace: "sub-a" });
    await stack.client.containers.delete("s-1", { namespace: "sub-a" });
    await stack.instance.notificationsIdle();
  });
  after(async () => {
    await stack?.close();
  });

  it("from the start for one namespace", async () => {
    const events = await take(stack.client.events.subscribe({ from: "start", namespace: "sub-a" }), 3);
    assert.deepEqual(events.map((e) => e.topic), ["/containers/create", "/images/create", "/containers/delete"]);
    assert.ok(events.every((e) => e.namespace === "sub-a"));
    assert.ok(events[0]!.seq < events[1]!.seq && events[1]!.seq < events[2]!.seq);
    assert.ok(events[0]!.sourceSeq > 0);
  });

  it("chosen topics across namespaces", async () => {
    const events = await take(stack.client.events.subscribe({ from: "start", topics: ["/containers/create"] }), 2);
    assert.deepEqual(events.map((e) => `${e.namespace}${e.topic}`), ["sub-a/containers/create", "sub-b/containers/create"]);
    const several = await take(stack.client.events.subscribe({ from: "start", topics: ["/images/create", "/containers/delete"] }), 2);
    assert.deepEqual(several.map((e) => e.topic), ["/images/create", "/containers/delete"]);
  });

  it("from a sequence and from a time", async () => {
    const all = await take(stack.client.events.subscribe({ from: "start" }), 4);
    const fromThird = await take(stack.client.events.subscribe({ from: { seq: all[2]!.seq } }), 2);
    assert.deepEqual(fromThird.map((e) => e.seq), [all[2]!.seq, all[3]!.seq]);
    const fromTime = await take(stack.client.events.subscribe({ from: { time: all[3]!.timestamp } }), 1);
    assert.ok(fromTime[0]!.seq <= all[3]!.seq);
  });

  it("from now sees only new events", async () => {
    const iterator = stack.client.events.subscribe({ namespace: "sub-now" });
    const next = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stack.client.containers.create(container("late"), { namespace: "sub-now" });
    const first = await next;
    await iterator.return(undefined);
    assert.equal(first.value?.topic, "/containers/create");
    assert.equal((first.value?.event.value as { id: string }).id, "late");
  });

  it("a durable subscription resumes after its last ack", async () => {
    const reader = await Client.connect({ servers: stack.nats.url });
    try {
      const first = await take(reader.events.subscribe({ from: "start", durable: "auditor" }), 2);
      // The loop stopped after the second event without asking for more, so only the
      // first was acknowledged: the second comes again, the first does not. The
      // server sends it again once its acknowledgement wait ends. The events the
      // first loop received but did not hand out come again with it, and a busy
      // server may send them first, so the test reads until the second is back.
      const again: number[] = [];
      for await (const event of reader.events.subscribe({ durable: "auditor" })) {
        again.push(event.seq);
        if (event.seq === first[1]!.seq || again.length >= 20) break;
      }
      assert.ok(again.includes(first[1]!.seq), `delivered again: ${again.join(", ")}`);
      assert.ok(!again.includes(first[0]!.seq), `delivered again: ${again.join(", ")}`);
      await reader.events.unsubscribe("auditor");
    } finally {
      await reader.close();
    }
  });

  it("a start before retention is refused", async () => {
    const jsm = await (await import("@nats-io/jetstream")).jetstreamManager(stack.client.nc);
    // Drop the first two notifications, as a retention limit would.
    await jsm.streams.purge(stack.instance.layout.topicStream, { keep: 3 });
    const error = await stack.client.events.subscribe({ from: { seq: 1 } }).next().catch((e: Error) => e);
    assert.equal((error as { kind?: string }).kind, "FailedPrecondition");
    assert.match((error as Error).message, /no longer retained \(requested 1\): start at \d+ or later/);
  });

  it("misspelt options rejected", async () => {
    const misspelt = { fromSeq: 1 } as unknown as Parameters<typeof stack.client.events.subscribe>[0];
    const unknown = await stack.client.events.subscribe(misspelt).next().catch((e: Error) => e);
    assert.equal((unknown as { kind?: string }).kind, "InvalidArgument");
    assert.match((unknown as Error).message, /"fromSeq" is unknown: expected one of from, namespace, topics, durable, signal/);

    const badStart = { from: 1 } as unknown as Parameters<typeof stack.client.events.subscribe>[0];
    const start = await stack.client.events.subscribe(badStart).next().catch((e: Error) => e);
    assert.equal((start as { kind?: string }).kind, "InvalidArgument");
    assert.match((start as Error).message, /from 1: expected "now", "start", \{ seq: N \} or \{ time: T \}/);
  });

  it("lost connection throws Unavailable", async () => {
    const client = await Client.connect({ servers: stack.nats.url });
    const iterator = client.events.subscribe({ from: "start" });
    assert.equal((await iterator.next()).done, false);
    await client.nc.close();
    const error = await (async () => {
      for (;;) {
        const step = await iterator.next();
        if (step.done) return undefined;
      }
    })().catch((e: Error) => e);
    assert.equal((error as { kind?: string } | undefined)?.kind, "Unavailable", String(error));
    assert.match((error as Error).message, /notification subscription ended: the connection to NATS is closed/);
  });

  it("abort ends without error", async () => {
    const aborter = new AbortController();
    const seen: number[] = [];
    for await (const event of stack.client.events.subscribe({ from: "start", signal: aborter.signal })) {
      seen.push(event.seq);
      aborter.abort();
    }
    // The loop ended without throwing; messages already received may still come.
    assert.ok(seen.length >= 1);
  });
});
