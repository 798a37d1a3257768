import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import { container, startInstance, startTestServer } from "../helpers/nats.js";

describe("restart", () => {
  it("rebuilds identical state from the log", async () => {
    const nats = await startTestServer();
    try {
      const first = await startInstance(nats.url);
      const client = await Client.connect({ servers: nats.url });
      let before: unknown;
      try {
        for (let i = 0; i < 30; i++) await client.containers.create(container(`c-${i}`, { labels: { i: String(i) } }));
        for (let i = 0; i < 30; i += 3) await client.containers.delete(`c-${i}`);
        for (let i = 1; i < 30; i += 3) await client.containers.update({ id: `c-${i}`, image: `img-${i}` }, ["image"]);
        await client.containers.create(container("other"), { namespace: "second" });
        before = {
          default: await client.containers.list(),
          second: await client.containers.list([], { namespace: "second" }),
          namespaces: await client.namespaces.list(),
        };
      } finally {
        await first.close();
      }

      const second = await startInstance(nats.url);
      try {
        const after = {
          default: await client.containers.list(),
          second: await client.containers.list([], { namespace: "second" }),
          namespaces: await client.namespaces.list(),
        };
        assert.deepEqual(after, before);
        assert.equal((after.default as unknown[]).length, 20);
        // The rebuilt view also knows each aggregate's last sequence: writes still work.
        await client.containers.create(container("c-0"));
        await client.containers.update({ id: "c-1", image: "x" }, ["image"]);
      } finally {
        await second.close();
        await client.close();
      }
    } finally {
      await nats.close();
    }
  });
});
