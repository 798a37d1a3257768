/**
 * Three instances on one log, with clients whose requests land on any of them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import type { Instance } from "../../src/service.js";
import { container, startInstance, startTestServer, type TestServer } from "../helpers/nats.js";

describe("three instances", () => {
  let nats: TestServer;
  const instances: Instance[] = [];
  let clients: Client[] = [];
  before(async () => {
    nats = await startTestServer();
    for (const name of ["a", "b", "c"]) instances.push(await startInstance(nats.url, { name }));
    clients = await Promise.all(Array.from({ length: 6 }, () => Client.connect({ servers: nats.url })));
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    for (const instance of instances) await instance.close();
    await nats?.close();
  });

  it("every instance answers", async () => {
    for (let i = 0; i < 60; i++) await clients[i % clients.length]!.containers.list();
    const served = instances.map((instance) => instance.projection.seq);
    assert.equal(new Set(served).size, 1, "all views are at the same revision");
  });

  it("ids stay unique under racing creates", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `unique-${i}`);
    const attempts = ids.flatMap((id) => clients.map((client) => client.containers.create(container(id)).then(() => id)));
    const results = await Promise.allSettled(attempts);
    const created = results.filter((r): r is PromiseFulfilledResult<string> => r.status === "fulfilled").map((r) => r.value);
    assert.deepEqual([...created].sort(), [...ids].sort(), "exactly one create per id succeeded");
    for (const result of results) {
      if (result.status === "rejected") assert.equal((result.reason as { kind: string }).kind, "AlreadyExists");
    }
  });

  it("concurrent label updates all land", async () => {
    await clients[0]!.containers.create(container("shared"));
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        clients[i % clients.length]!.containers.update({ id: "shared", labels: { [`k${i}`]: String(i) } }, [`labels.k${i}`]),
      ),
    );
    const shared = await clients[0]!.containers.get("shared", { minRevision: Math.max(...instances.map((x) => x.projection.seq)) });
    assert.equal(Object.keys(shared.labels ?? {}).length, 60, "no update was lost");
  });

  it("immutable fields stay immutable", async () => {
    await clients[0]!.containers.create(container("fixed", { snapshotter: "overlayfs" }));
    const attempts = await Promise.allSettled(
      clients.map((client, i) =>
        client.containers.update(container("fixed", { snapshotter: i % 2 === 0 ? "native" : "overlayfs", runtime: { name: `other-${i}` } })),
      ),
    );
    for (const attempt of attempts) assert.equal(attempt.status, "rejected");
    assert.equal((await clients[1]!.containers.get("fixed")).snapshotter, "overlayfs");
  });

  it("namespace deletes race writes across instances", async () => {
    for (let round = 0; round < 20; round++) {
      const name = `multi-${round}`;
      await clients[0]!.namespaces.create({ name });
      const [deleted, created] = await Promise.allSettled([
        clients[1]!.namespaces.delete(name),
        clients[2]!.containers.create(container("c"), { namespace: name }),
      ]);
      assert.equal(created.status, "fulfilled");
      const revision = Math.max(...instances.map((instance) => instance.projection.seq));
      for (const client of clients.slice(3)) {
        const names = (await client.namespaces.list({ minRevision: revision })).map((ns) => ns.name);
        assert.ok(names.includes(name), "a stored container's namespace exists on every instance");
      }
      if (deleted.status === "rejected") {
        const reason = deleted.reason as { kind: string; message: string };
        assert.equal(reason.kind, "FailedPrecondition", `round ${round}: ${reason.message}`);
      }
    }
  });

  it("a client reads its own writes whichever instance answers", async () => {
    // A plain subscriber gets a copy of every request the queue group serves.
    const seen = new Map<string, string>();
    const copies = clients[0]!.nc.subscribe(`${clients[0]!.layout.prefix}.api.v1.>`, {
      callback: (_error, msg) => {
        seen.set(msg.headers?.get("Ctrmeta-Request-Id") ?? "", msg.headers?.get("Ctrmeta-Min-Revision") ?? "");
      },
    });
    try {
      const client = clients[3]!;
      await client.containers.create(container("own"));
      for (let i = 0; i < 50; i++) {
        const written = await client.call("containers", "update", { container: { id: "own", labels: { n: String(i) } }, updateMask: ["labels.n"] });
        const read = await client.call("containers", "get", { id: "own" }, { requestId: `own-read-${i}` });
        assert.equal((read.body.container as { labels: Record<string, string> }).labels.n, String(i), "the read sees the write before it");
        await clients[0]!.nc.flush();
        assert.equal(seen.get(`own-read-${i}`), String(written.revision), "the read asked for the write's revision");
      }
      const opted = await Client.connect({ servers: nats.url, readYourWrites: false });
      try {
        await opted.containers.get("own");
        await opted.call("containers", "get", { id: "own" }, { requestId: "opted-out" });
        await clients[0]!.nc.flush();
        assert.equal(seen.get("opted-out"), "", "readYourWrites: false sends no minimum revision");
      } finally {
        await opted.close();
      }
    } finally {
      copies.unsubscribe();
    }
  });

  it("reads wait for another instance's revision", async () => {
    for (let i = 0; i < 100; i++) {
      const writer = clients[i % clients.length]!;
      const reader = clients[(i + 1) % clients.length]!;
      const reply = await writer.call("containers", "create", { container: container(`ryw-${i}`) });
      const read = await reader.call("containers", "get", { id: `ryw-${i}` }, { minRevision: reply.revision! });
      assert.ok(read.revision! >= reply.revision!);
    }
  });

  it("a revision never reached times out clearly", async () => {
    const future = Math.max(...instances.map((instance) => instance.projection.seq)) + 1_000_000;
    const error = await clients[0]!.containers.list([], { minRevision: future, minRevisionWaitMs: 200 }).catch((e: Error) => e);
    assert.equal((error as { kind?: string }).kind, "DeadlineExceeded");
    assert.match((error as Error).message, new RegExp(`did not reach revision ${future} within 200 ms`));
  });

  it("every view agrees at the end", async () => {
    const revision = Math.max(...instances.map((instance) => instance.projection.seq));
    await Promise.all(instances.map((instance) => instance.projection.waitFor(revision, 10_000)));
    const views = instances.map((instance) => {
      const namespace = instance.projection.state.namespaces.get("default")!;
      return JSON.stringify([...namespace.containers.keys()].sort());
    });
    assert.equal(new Set(views).size, 1);
  });
});
