import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import type { Instance } from "../../src/service.js";
import { container, startInstance, startTestServer, type TestServer } from "../helpers/nats.js";

describe("status", () => {
  let nats: TestServer;
  let client: Client;
  const instances: Instance[] = [];
  before(async () => {
    nats = await startTestServer();
    instances.push(await startInstance(nats.url, { name: "one", metricsPort: 0 }));
    client = await Client.connect({ servers: nats.url });
    // Instance "one" serves these alone because "two" starts afterwards, so the
    // counts below do not depend on how the queue group spreads requests.
    for (let i = 0; i < 5; i++) await client.containers.create(container(`s-${i}`));
    await client.containers.get("missing").catch(() => undefined);
    instances.push(await startInstance(nats.url, { name: "two" }));
  });
  after(async () => {
    await client?.close();
    for (const instance of instances) await instance.close();
    await nats?.close();
  });

  it("reports streams, consumers, instances and gc", async () => {
    const status = await client.status.get();
    const streams = status.streams as Record<string, { lastSeq: number; messages: number }>;
    assert.ok(streams.CTRMETA_LOG!.lastSeq >= 5);
    assert.ok("CTRMETA_TOPICS" in streams);
    const consumers = status.consumers as Array<{ name: string; durable: boolean }>;
    assert.ok(consumers.some((consumer) => consumer.name === "ctrmeta-gc" && consumer.durable));
    const answered = status.instances as Array<{ name: string; view: { seq: number; lagEvents: number }; leader: boolean }>;
    assert.deepEqual(answered.map((instance) => instance.name), ["one", "two"]);
    assert.equal(answered.filter((instance) => instance.leader).length, 1);
    for (const instance of answered) assert.equal(typeof instance.view.lagEvents, "number");
    assert.equal(typeof (status.gc as { collections: number }).collections, "number");
  });

  it("counts requests by outcome", async () => {
    // Either instance may serve the request, so repeat it until "one" does.
    let statusOfOne: Record<string, unknown> | undefined;
    for (let attempt = 0; attempt < 200 && statusOfOne?.name !== "one"; attempt++) statusOfOne = await client.status.instance();
    assert.equal(statusOfOne?.name, "one");
    const requests = statusOfOne!.requests as Record<string, { outcomes: Record<string, number> }>;
    assert.equal(requests["containers.create"]?.outcomes.ok, 5);
    assert.equal(requests["containers.get"]?.outcomes.NotFound, 1);
  });

  it("serves Prometheus text", async () => {
    const port = instances[0]!.metricsServer!.port;
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    assert.match(text, /^# TYPE ctrmeta_view_seq gauge$/m);
    assert.match(text, /^ctrmeta_view_seq\{instance="one"\} \d+$/m);
    assert.match(text, /^ctrmeta_view_lag_events\{instance="one"\} \d+$/m);
    assert.match(text, /^ctrmeta_view_log_divergences\{instance="one"\} 0$/m);
    assert.match(text, /^ctrmeta_requests_total\{instance="one",method="[a-z]+\.[A-Za-z]+",outcome="[A-Za-z]+"\} \d+$/m);
    assert.equal((await fetch(`http://127.0.0.1:${port}/other`)).status, 404);
  });
});
