/**
 * The collector's durable consumer: acknowledged in batches (each acknowledgement
 * covers every earlier event), and replaced when an older configuration cannot be
 * updated to that.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AckPolicy, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Client } from "../../src/client/client.js";
import { applyStreams, loadDefinition, type ConsumerDefinition } from "../../src/nats/streams.js";
import { Layout } from "../../src/nats/subjects.js";
import type { Instance } from "../../src/service.js";
import { container, startInstance, startTestServer, type TestServer } from "../helpers/nats.js";

async function waitUntil(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("gc consumer", () => {
  let nats: TestServer;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let instance: Instance | undefined;
  let client: Client | undefined;
  const layout = new Layout();
  const name = `${layout.prefix}-gc`;

  before(async () => {
    nats = await startTestServer();
    nc = await connect({ servers: nats.url });
    jsm = await jetstreamManager(nc);
    // A consumer as earlier versions created it: every event acknowledged on its own.
    await applyStreams(jsm, layout);
    const definition = loadDefinition<ConsumerDefinition>("gc-consumer.json", layout);
    await jsm.consumers.add(layout.logStream, { ...definition.config, ack_policy: AckPolicy.Explicit });
  });

  after(async () => {
    await client?.close();
    await instance?.close();
    await nc?.close();
    await nats?.close();
  });

  it("replaces a non-updatable consumer", async () => {
    assert.equal((await jsm.consumers.info(layout.logStream, name)).config.ack_policy, AckPolicy.Explicit);
    instance = await startInstance(nats.url);
    assert.equal((await jsm.consumers.info(layout.logStream, name)).config.ack_policy, AckPolicy.All);
  });

  it("acks in batches, nothing pending", async () => {
    client = await Client.connect({ servers: nats.url });
    // Acknowledgements are messages to the consumer's ack subjects: count them.
    let acknowledgements = 0;
    const watch = nc.subscribe(`$JS.ACK.${layout.logStream}.${name}.>`, { callback: () => void acknowledgements++ });
    await nc.flush();
    const writes = 600;
    await Promise.all(Array.from({ length: writes }, (_, index) => client!.containers.create(container(`ack-${index}`))));
    const last = (await jsm.streams.info(layout.logStream)).state.last_seq;
    await waitUntil(async () => {
      const info = await jsm.consumers.info(layout.logStream, name);
      return info.delivered.stream_seq >= last && info.ack_floor.stream_seq >= last && info.num_ack_pending === 0;
    }, `the gc consumer acknowledged event ${last}`);
    const info = await jsm.consumers.info(layout.logStream, name);
    assert.equal(info.num_redelivered, 0);
    await nc.flush();
    watch.unsubscribe();
    assert.ok(acknowledgements > 0, "no acknowledgement seen");
    assert.ok(acknowledgements <= writes / 4, `${acknowledgements} acknowledgements for ${writes} events`);
  });
});
