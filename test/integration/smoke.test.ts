import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startStack, container, type Stack } from "../helpers/nats.js";

describe("smoke", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.close();
  });

  it("creates and reads a container", async () => {
    const created = await stack.client.containers.create(container("web", { labels: { app: "web" } }));
    assert.equal(created.id, "web");
    const got = await stack.client.containers.get("web");
    assert.deepEqual(got.labels, { app: "web" });
    const list = await stack.client.containers.list(["labels.app==web"]);
    assert.deepEqual(list.map((c) => c.id), ["web"]);
  });
});
