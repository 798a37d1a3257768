import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { container, startStack, type Stack } from "../helpers/nats.js";

describe("history and as-of reads", () => {
  let stack: Stack;
  const revisions: number[] = [];
  let timeBetween = "";
  before(async () => {
    stack = await startStack({ gc: false });
    const { client } = stack;
    revisions.push((await client.call("containers", "create", { container: container("web", { labels: { app: "web" } }) }, { requestId: "r-1" })).revision!);
    await new Promise((resolve) => setTimeout(resolve, 50));
    timeBetween = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 50));
    revisions.push((await client.call("containers", "update", { container: { id: "web", labels: { tier: "front" } }, updateMask: ["labels.tier"] }, { requestId: "r-2" })).revision!);
    revisions.push((await client.call("containers", "update", { container: { id: "web", image: "nginx:2" }, updateMask: ["image"] }, { requestId: "r-3" })).revision!);
    revisions.push((await client.call("containers", "delete", { id: "web" }, { requestId: "r-4" })).revision!);
    await client.containers.create(container("web", { labels: { app: "again" } }));
  });
  after(async () => {
    await stack?.close();
  });

  it("history lists every event with changes", async () => {
    const history = await stack.client.history.get("container", "web");
    assert.deepEqual(history.map((entry) => entry.type), ["container.created", "container.updated", "container.updated", "container.deleted", "container.created"]);
    assert.deepEqual(history.slice(0, 4).map((entry) => entry.requestId), ["r-1", "r-2", "r-3", "r-4"]);
    assert.deepEqual(history.map((entry) => entry.seq).slice(0, 4), revisions);
    assert.deepEqual(history[1]!.changes.filter((change) => change.path !== "updatedAt"), [{ path: "labels.tier", to: "front" }]);
    assert.deepEqual(history[2]!.changes.filter((change) => change.path !== "updatedAt"), [{ path: "image", from: "", to: "nginx:2" }]);
    assert.ok(history[3]!.changes.some((change) => change.path === "id" && change.from === "web" && change.to === undefined));
  });

  it("namespace history shows labels", async () => {
    await stack.client.namespaces.create({ name: "hist-ns", labels: { a: "1" } });
    await stack.client.namespaces.update({ name: "hist-ns", labels: { a: "2" } }, ["labels.a"]);
    const history = await stack.client.history.get("namespace", "hist-ns");
    assert.deepEqual(history.map((entry) => entry.changes), [[{ path: "labels.a", to: "1" }], [{ path: "labels.a", from: "1", to: "2" }]]);
  });

  it("get and list at a sequence", async () => {
    const atFirst = await stack.client.containers.get("web", { at: revisions[0] });
    assert.deepEqual(atFirst.labels, { app: "web" });
    const atThird = await stack.client.containers.get("web", { at: revisions[2] });
    assert.equal(atThird.image, "nginx:2");
    const atDelete = await stack.client.containers.list([], { at: revisions[3] });
    assert.deepEqual(atDelete, []);
    const now = await stack.client.containers.get("web");
    assert.deepEqual(now.labels, { app: "again" });
  });

  it("get at a time", async () => {
    const between = await stack.client.containers.get("web", { at: timeBetween });
    assert.deepEqual(between.labels, { app: "web" }, "the state between the create and the first update");
  });

  it("as-of applies to reads only", async () => {
    const error = await stack.client.containers.create(container("x"), { at: 1 }).catch((e: Error) => e);
    assert.equal((error as { kind?: string }).kind, "InvalidArgument");
    const future = await stack.client.containers.list([], { at: 1_000_000 }).catch((e: Error) => e);
    assert.match((future as Error).message, /the log ends at/);
  });
});
