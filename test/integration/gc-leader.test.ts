import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import type { Instance } from "../../src/service.js";
import { startInstance, startTestServer, type TestServer } from "../helpers/nats.js";

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function leaders(instances: Instance[]): Instance[] {
  return instances.filter((instance) => instance.gc?.isLeader);
}

describe("gc leader election", () => {
  let nats: TestServer;
  let client: Client;
  const live: Instance[] = [];
  const all: Instance[] = [];
  before(async () => {
    nats = await startTestServer();
    for (const name of ["a", "b", "c"]) {
      const instance = await startInstance(nats.url, { name });
      live.push(instance);
      all.push(instance);
    }
    client = await Client.connect({ servers: nats.url });
  });
  after(async () => {
    await client?.close();
    for (const instance of all) await instance.close();
    await nats?.close();
  });

  it("exactly one instance collects", async () => {
    const leader = await waitFor("a leader", 10_000, () => (leaders(live).length === 1 ? leaders(live)[0] : undefined));
    // Watch for a while: never two leaders at once.
    for (let i = 0; i < 20; i++) {
      assert.ok(leaders(live).length <= 1);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal(leaders(live)[0], leader);
    const stats = await client.gc.collect();
    assert.equal(typeof stats.durationMs, "number");
    const status = await client.gc.status();
    assert.match(String(status.leader), new RegExp(`^${["a", "b", "c"][all.indexOf(leader)]}-`));
  });

  it("another takes over after a graceful stop", async () => {
    const leader = leaders(live)[0]!;
    live.splice(live.indexOf(leader), 1);
    const started = Date.now();
    await leader.close();
    const next = await waitFor("a new leader", 10_000, () => (leaders(live).length === 1 ? leaders(live)[0] : undefined));
    assert.notEqual(next, leader);
    assert.ok(Date.now() - started < 5000, "the released key lets a follower take over within a few renewals");
    await client.gc.collect();
  });

  it("another takes over after a crash", async () => {
    const leader = leaders(live)[0]!;
    live.splice(live.indexOf(leader), 1);
    // The process dies without releasing the key: its entry expires after the bucket's TTL.
    await leader.nc.close();
    const next = await waitFor("a new leader", 20_000, () => (leaders(live).length === 1 ? leaders(live)[0] : undefined));
    assert.notEqual(next, leader);
    const reply = await client.images.delete("missing", true).catch((error: Error) => error);
    assert.equal((reply as { kind?: string }).kind, "NotFound");
    const lease = await client.leases.create({});
    const deleted = await client.leases.delete(lease.id, true);
    assert.ok(deleted.gc, "a sync delete reaches the new collector");
  });
});
