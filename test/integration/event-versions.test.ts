import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { jetstream } from "@nats-io/jetstream";
import { pino } from "pino";
import { Client } from "../../src/client/client.js";
import { packValue } from "../../src/events/codec.js";
import { startInstance, startTestServer, type TestServer } from "../helpers/nats.js";

/** A log written by the first encoder (event version 0), kept as a fixture. */
const FIXTURE = fileURLToPath(new URL("../../../test/data/log-v0.jsonl", import.meta.url));

describe("older event versions", () => {
  let nats: TestServer;
  let client: Client;
  before(async () => {
    nats = await startTestServer();
    // Create the streams, then write the old events into the log as they were.
    const setup = await startInstance(nats.url, { gc: false });
    await setup.close();
    client = await Client.connect({ servers: nats.url });
    const js = jetstream(client.nc);
    for (const line of readFileSync(FIXTURE, "utf8").trim().split("\n")) {
      const { subject, data } = JSON.parse(line) as { subject: string; data: string };
      await js.publish(subject, Buffer.from(data, "base64"));
    }
  });
  after(async () => {
    await client?.close();
    await nats?.close();
  });

  it("replays a version 0 log", async () => {
    const instance = await startInstance(nats.url, { gc: false });
    try {
      const app = await client.containers.get("app", { namespace: "legacy" });
      assert.equal(app.snapshotKey, "app-snap-2");
      assert.deepEqual(app.labels, { tier: "web", owner: "ops" });
      assert.equal(app.createdAt, "2025-06-01T10:00:02.000000000Z");
      assert.equal(app.updatedAt, "2025-06-01T10:00:03.000000000Z");
      const image = await client.images.get("busybox:1.36", { namespace: "legacy" });
      assert.equal(image.target?.mediaType, "application/vnd.oci.image.index.v1+json");
      assert.deepEqual((await client.containers.list([], { namespace: "legacy" })).map((c) => c.id), ["app"]);
      assert.deepEqual((await client.namespaces.get("legacy")).labels, { team: "old" });

      // New events follow the old ones on the same subjects.
      const updated = await client.containers.update({ id: "app", image: "busybox:1.37" }, ["image"], { namespace: "legacy" });
      assert.equal(updated.snapshotKey, "app-snap-2");
      await client.containers.create({ id: "tmp", runtime: { name: "r" }, spec: { typeUrl: "t", value: {} } }, { namespace: "legacy" });
    } finally {
      await instance.close();
    }
  });

  it("a newer event version stops the view", async () => {
    const js = jetstream(client.nc);
    const future = packValue({ v: 1, ev: 99, ns: "legacy", time: "2030-01-01T00:00:00.000000000Z", req: "future", event: { type: "lease.deleted", id: "keep" } });
    const { seq } = await js.publish("ctrmeta.log.lease.legacy.keep", future);
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: "error" }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    const instance = await startInstance(nats.url, { gc: false, logger }).catch((error: Error) => error);
    assert.ok(instance instanceof Error, "an instance cannot start on a log it cannot read");
    assert.match(instance.message, /lease.deleted version 99 is newer than this ctrmeta reads \(1\): upgrade ctrmeta/);
    void seq;
    assert.ok(lines.some((line) => /lease.deleted version 99 is newer than this ctrmeta reads \(1\)/.test(JSON.stringify(line))));
  });
});
