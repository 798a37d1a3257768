import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import { container, startInstance, startStack, type Stack } from "../helpers/nats.js";

/** Rounds of each race; each round uses a fresh namespace. */
const ROUNDS = 40;

describe("namespace delete racing writes", () => {
  let stack: Stack;
  let clients: Client[];
  before(async () => {
    stack = await startStack();
    clients = await Promise.all([1, 2, 3].map(() => Client.connect({ servers: stack.nats.url })));
  });
  after(async () => {
    await Promise.all((clients ?? []).map((client) => client.close()));
    await stack?.close();
  });

  it("each round has a serial outcome", async () => {
    const outcomes = { deleteFirst: 0, writeFirst: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const name = `race-${round}`;
      await clients[0]!.namespaces.create({ name });
      const [deleted, created] = await Promise.allSettled([
        clients[1]!.namespaces.delete(name),
        clients[2]!.containers.create(container("c1"), { namespace: name }),
      ]);
      assert.equal(created.status, "fulfilled", "a write never fails because of a namespace delete");
      const names = (await clients[0]!.namespaces.list()).map((ns) => ns.name);
      assert.ok(names.includes(name), "the namespace of a stored container exists");
      assert.deepEqual((await clients[0]!.containers.list([], { namespace: name })).map((c) => c.id), ["c1"]);
      if (deleted.status === "fulfilled") {
        outcomes.deleteFirst++;
      } else {
        assert.equal((deleted.reason as { kind: string }).kind, "FailedPrecondition");
        outcomes.writeFirst++;
      }
    }
    assert.equal(outcomes.deleteFirst + outcomes.writeFirst, ROUNDS);
  });

  it("labels survive only with their namespace", async () => {
    for (let round = 0; round < ROUNDS / 2; round++) {
      const name = `label-race-${round}`;
      await clients[0]!.namespaces.create({ name, labels: { owner: "a" } });
      const [deleted] = await Promise.allSettled([
        clients[1]!.namespaces.delete(name),
        clients[2]!.images.create(
          { name: "img", target: { mediaType: "m", digest: `sha256:${"a".repeat(64)}`, size: 1 } },
          { namespace: name },
        ),
      ]);
      const ns = await clients[0]!.namespaces.get(name);
      // A delete that won removed the labels; the later image re-created the namespace without them.
      assert.deepEqual(ns.labels, deleted.status === "fulfilled" ? {} : { owner: "a" });
    }
  });

  it("a rebuilt view agrees with the live one", async () => {
    const live = await clients[0]!.namespaces.list();
    const liveContainers = await Promise.all(live.map((ns) => clients[0]!.containers.list([], { namespace: ns.name })));
    const second = await startInstance(stack.nats.url, { notify: false });
    try {
      assert.deepEqual([...second.projection.state.namespaces.keys()].sort(), live.map((ns) => ns.name).sort());
      for (const [index, ns] of live.entries()) {
        const rebuilt = [...(second.projection.state.namespaces.get(ns.name)?.containers.keys() ?? [])].sort();
        assert.deepEqual(rebuilt, liveContainers[index]!.map((c) => c.id));
      }
    } finally {
      await second.close();
    }
  });
});
