import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { headers as natsHeaders, type Msg } from "@nats-io/nats-core";
import { Svcm } from "@nats-io/services";
import { packValue, unpackValue } from "../../src/events/codec.js";
import type { NotificationEnvelope } from "../../src/events/notifier.js";
import { container, SPEC, startStack, type Stack } from "../helpers/nats.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

describe("NATS API edges", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.close();
  });

  function subject(namespace: string, service: string, method: string): string {
    return stack.instance.layout.apiSubject(namespace, service, method);
  }

  it("accepts and answers MessagePack", async () => {
    const headers = natsHeaders();
    headers.set("Content-Type", "application/msgpack");
    const options = new Uint8Array([8, 1]);
    const body = packValue({
      container: { id: "packed", runtime: { name: "r", options: { typeUrl: "opts", value: options } }, spec: { typeUrl: SPEC.typeUrl, value: SPEC.value } },
    });
    const reply = await stack.client.nc.request(subject("default", "containers", "create"), body, { headers, timeout: 5000 });
    assert.equal(reply.headers?.get("Content-Type"), "application/msgpack");
    const decoded = unpackValue(reply.data) as { container: { id: string; runtime: { options: { valueBase64: string } } } };
    assert.equal(decoded.container.id, "packed");
    assert.equal(decoded.container.runtime.options.valueBase64, Buffer.from(options).toString("base64"));
  });

  it("error replies carry headers and body", async () => {
    const reply = await stack.client.nc.request(subject("default", "containers", "get"), encoder.encode('{"id":"ghost"}'), { timeout: 5000 });
    assert.equal(reply.headers?.get("Nats-Service-Error-Code"), "5");
    assert.equal(reply.headers?.get("Ctrmeta-Error-Kind"), "NotFound");
    assert.equal(reply.headers?.get("Nats-Service-Error"), 'container "ghost" in namespace "default": not found');
    const body = JSON.parse(decoder.decode(reply.data)) as { error: { kind: string; code: number; message: string } };
    assert.deepEqual(body.error, { kind: "NotFound", code: 5, message: 'container "ghost" in namespace "default": not found' });
  });

  it("malformed bodies get typed errors", async () => {
    const cases: Array<[string, string]> = [
      ["{not json", "request body is not valid JSON"],
      ["[1,2]", "request body: expected an object, got array"],
      ['{"container":{"id":5}}', "container.id: expected a string, got number 5"],
      ['{"container":{"id":"x","labels":{"a":1}}}', 'container.labels["a"]: expected a string, got number 1'],
    ];
    for (const [body, message] of cases) {
      const reply = await stack.client.nc.request(subject("default", "containers", "create"), encoder.encode(body), { timeout: 5000 });
      assert.equal(reply.headers?.get("Ctrmeta-Error-Kind"), "InvalidArgument", body);
      assert.ok(reply.headers?.get("Nats-Service-Error")?.startsWith(message), `${body}: ${reply.headers?.get("Nats-Service-Error")}`);
    }
  });

  it("namespace header must match the subject", async () => {
    const headers = natsHeaders();
    headers.set("containerd-namespace", "other");
    const reply = await stack.client.nc.request(subject("default", "containers", "list"), encoder.encode("{}"), { headers, timeout: 5000 });
    assert.equal(reply.headers?.get("Ctrmeta-Error-Kind"), "InvalidArgument");
  });

  it("replies carry the revision", async () => {
    const created = await stack.client.call("containers", "create", { container: container("rev-1") });
    assert.ok(created.revision! > 0);
    const read = await stack.client.call("containers", "get", { id: "rev-1" });
    assert.ok(read.revision! >= created.revision!);
  });

  it("is discoverable through $SRV", async () => {
    const services = new Svcm(stack.client.nc).client();
    const pings = [];
    for await (const ping of await services.ping("ctrmeta")) pings.push(ping);
    assert.equal(pings.length, 1);
    const infos = [];
    for await (const info of await services.info("ctrmeta")) infos.push(info);
    const subjects = infos[0]!.endpoints.map((endpoint) => endpoint.subject);
    assert.ok(subjects.includes("ctrmeta.api.v1.*.containers.create"));
    assert.ok(subjects.includes("ctrmeta.api.v1.*.gc.collect"));
    const stats = [];
    for await (const stat of await services.stats("ctrmeta")) stats.push(stat);
    const create = stats[0]!.endpoints!.find((endpoint) => endpoint.name === "containers-create");
    assert.ok(create!.num_requests > 0);
  });

  it("notifications per namespace, live and durable", async () => {
    const live: NotificationEnvelope[] = [];
    const subscription = stack.client.nc.subscribe(stack.instance.layout.topicFilter("team-n"), {
      callback: (_error: Error | null, msg: Msg) => {
        live.push(JSON.parse(decoder.decode(msg.data)) as NotificationEnvelope);
      },
    });
    await stack.client.nc.flush();
    await stack.client.containers.create(container("n-1", { image: "nginx" }), { namespace: "team-n" });
    await stack.client.containers.create(container("elsewhere"), { namespace: "team-other" });
    await stack.client.containers.update({ id: "n-1", labels: { a: "b" } }, ["labels"], { namespace: "team-n" });
    await stack.client.containers.delete("n-1", { namespace: "team-n" });
    await stack.instance.notificationsIdle();
    await stack.client.nc.flush();
    subscription.unsubscribe();

    assert.deepEqual(live.map((item) => item.topic), ["/containers/create", "/containers/update", "/containers/delete"]);
    assert.deepEqual(live[0]!.event, {
      typeUrl: "containerd.events.ContainerCreate",
      value: { id: "n-1", image: "nginx", runtime: { name: "io.containerd.runc.v2" } },
    });
    assert.deepEqual(live[1]!.event.value, { id: "n-1", image: "nginx", labels: { a: "b" }, snapshotKey: "" });
    assert.ok(live.every((item) => item.namespace === "team-n"));

    // The same notifications replay from the stream, in order, with their sequence.
    const js = jetstream(stack.client.nc);
    const consumer = await js.consumers.get(stack.instance.layout.topicStream, {
      filter_subjects: stack.instance.layout.topicFilter("team-n"),
      deliver_policy: DeliverPolicy.All,
    });
    const replayed: string[] = [];
    const messages = await consumer.fetch({ max_messages: 3, expires: 2000 });
    for await (const message of messages) replayed.push((JSON.parse(decoder.decode(message.data)) as NotificationEnvelope).topic);
    assert.deepEqual(replayed, ["/containers/create", "/containers/update", "/containers/delete"]);
  });

  it("a restarted notifier neither repeats nor loses", async () => {
    const js = jetstream(stack.client.nc);
    const before = (await (await js.streams.get(stack.instance.layout.topicStream)).info()).state.messages;
    await stack.client.images.create({ name: "notify:1", target: { mediaType: "m", digest: `sha256:${"b".repeat(64)}`, size: 1 } });
    await stack.instance.notificationsIdle();
    const { startInstance } = await import("../helpers/nats.js");
    const second = await startInstance(stack.nats.url, { gc: false });
    try {
      await second.notificationsIdle();
      await stack.client.images.delete("notify:1");
      await stack.instance.notificationsIdle();
      await second.notificationsIdle();
    } finally {
      await second.close();
    }
    const after = (await (await js.streams.get(stack.instance.layout.topicStream)).info()).state.messages;
    assert.equal(after - before, 2, "one create and one delete, each published once");
  });
});
