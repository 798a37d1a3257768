/**
 * A notifier that stopped halfway through an event's notifications (a collection's
 * event has one per removal) resumes with the next one: the rest of the event is
 * published once, and the part already in the stream is not repeated. Events the
 * log got after the stop are published by the instance that starts next, as its
 * view catches up with the log.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { EVENT_TYPE_HEADER } from "../../src/nats/event-store.js";
import { parseNotificationId, SOURCE_SEQ_HEADER, type NotificationEnvelope } from "../../src/events/notifier.js";
import { container, startInstance, startStack, type Stack } from "../helpers/nats.js";

const MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const decoder = new TextDecoder();

function digestOf(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}

describe("notifier resuming inside an event", () => {
  // The instance that writes publishes no notifications; the test plays the
  // notifier that stopped, and a second instance the one that takes over.
  let stack: Stack;
  before(async () => {
    stack = await startStack({ notify: false });
  });
  after(async () => {
    await stack?.close();
  });

  it("resumes inside an event", async () => {
    const { client, instance } = stack;
    const layers = [digestOf("resume-layer-0"), digestOf("resume-layer-1")];
    const manifest = digestOf("resume-manifest");
    for (const layer of layers) await client.content.commit({ digest: layer, size: 10 });
    await client.content.commit({
      digest: manifest,
      size: 5,
      labels: { "containerd.io/gc.ref.content.l.0": layers[0]!, "containerd.io/gc.ref.content.l.1": layers[1]! },
    });
    await client.images.create({ name: "docker.io/x/resume:1", target: { mediaType: MANIFEST, digest: manifest, size: 5 } });
    const reply = await client.images.delete("docker.io/x/resume:1", true);
    assert.equal((reply.gc as { removed: { content: number } }).removed.content, 3);

    // The collection's event is the last one in the log.
    const jsm = await jetstreamManager(client.nc);
    const seq = (await jsm.streams.info(instance.layout.logStream)).state.last_seq;
    const event = await jsm.streams.getMessage(instance.layout.logStream, { seq });
    assert.match(event!.header.get(EVENT_TYPE_HEADER), /gc/i, "the last event is the collection's");

    // The notifier that stopped got only the event's first notification out.
    const headers = natsHeaders();
    headers.set(SOURCE_SEQ_HEADER, String(seq));
    const first: NotificationEnvelope = {
      timestamp: new Date().toISOString(),
      namespace: "default",
      topic: "/content/delete",
      event: { typeUrl: "containerd.events.ContentDelete", value: { digest: "published before the stop" } },
    };
    const js = jetstream(client.nc);
    await js.publish(instance.layout.topicSubject("default", "/content/delete"), JSON.stringify(first), { headers, msgID: `${seq}-0` });

    // An event the stopped notifier never saw: the one taking over publishes it
    // as its view applies it while catching up with the log.
    await client.containers.create(container("after-the-stop"));

    const second = await startInstance(stack.nats.url, { gc: false });
    try {
      await second.notificationsIdle();
    } finally {
      await second.close();
    }

    const consumer = await js.consumers.get(instance.layout.topicStream, { deliver_policy: DeliverPolicy.All });
    const stored: Array<{ id: string; seq: number; digest: unknown }> = [];
    const total = (await jsm.streams.info(instance.layout.topicStream)).state.messages;
    const messages = await consumer.fetch({ max_messages: total, expires: 2000 });
    for await (const message of messages) {
      const body = JSON.parse(decoder.decode(message.data)) as NotificationEnvelope;
      stored.push({
        id: message.headers?.get("Nats-Msg-Id") ?? "",
        seq: Number(message.headers?.get(SOURCE_SEQ_HEADER)),
        digest: (body.event.value as { digest?: unknown }).digest,
      });
    }
    assert.deepEqual(
      stored.map((item) => item.id),
      [`${seq}-0`, `${seq}-1`, `${seq}-2`, `${seq + 1}-0`],
      "the first notification once, then the rest of the event and the next event; nothing from before it",
    );
    const removed = new Set(stored.slice(1, 3).map((item) => item.digest));
    assert.equal(removed.size, 2);
    for (const digest of removed) assert.ok([manifest, ...layers].includes(digest as string), String(digest));
  });

  it("position from message ids", () => {
    assert.deepEqual(parseNotificationId("12-0"), { seq: 12, index: 0 });
    assert.deepEqual(parseNotificationId("7-301"), { seq: 7, index: 301 });
    for (const id of [undefined, "", "12", "0-1", "12-01", "a-1", "12-1-2", " 12-1", "99999999999999999999-1"]) {
      assert.equal(parseNotificationId(id), undefined, String(id));
    }
  });
});
