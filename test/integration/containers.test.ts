import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AlreadyExists, InvalidArgument, NotFound } from "../../src/domain/errors.js";
import { container, startStack, type Stack } from "../helpers/nats.js";

describe("containers over the NATS API", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.close();
  });

  it("create, get, list, update, delete", async () => {
    const { containers } = stack.client;
    const created = await containers.create(container("crud-1", { labels: { app: "web", empty: "" }, image: "nginx" }));
    assert.deepEqual(created.labels, { app: "web" });
    assert.equal(created.createdAt, created.updatedAt);

    const got = await containers.get("crud-1");
    assert.equal(got.image, "nginx");
    assert.deepEqual(got.spec, created.spec);

    const updated = await containers.update({ id: "crud-1", labels: { tier: "front" } }, ["labels.tier"]);
    assert.deepEqual(updated.labels, { app: "web", tier: "front" });
    assert.ok(updated.updatedAt! > updated.createdAt!);

    assert.deepEqual((await containers.list(["labels.tier==front"])).map((c) => c.id), ["crud-1"]);
    await containers.delete("crud-1");
    await assert.rejects(containers.get("crud-1"), NotFound);
  });

  it("errors keep their kind and message", async () => {
    await stack.client.containers.create(container("dup-1"));
    const error = await stack.client.containers.create(container("dup-1")).catch((e: unknown) => e);
    assert.ok(error instanceof AlreadyExists);
    assert.equal((error as Error).message, 'container "dup-1": already exists');

    const invalid = await stack.client.containers.create(container("bad..id")).catch((e: unknown) => e);
    assert.ok(invalid instanceof InvalidArgument);
    assert.match((invalid as Error).message, /^create container failed validation: container.ID: identifier "bad..id" must match/);
  });

  it("sixteen racing creates give one success", async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, () => stack.client.containers.create(container("race-1"))),
    );
    const fulfilled = results.filter((r) => r.status === "fulfilled");
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    assert.equal(fulfilled.length, 1);
    assert.equal(rejected.length, 15);
    for (const result of rejected) assert.ok(result.reason instanceof AlreadyExists, String(result.reason));
  });

  it("sixteen racing creates through separate connections", async () => {
    const { Client } = await import("../../src/client/client.js");
    const clients = await Promise.all(Array.from({ length: 16 }, () => Client.connect({ servers: stack.nats.url })));
    try {
      const results = await Promise.allSettled(clients.map((client) => client.containers.create(container("race-2"))));
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      const kinds = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as { kind: string }).kind] : []));
      assert.deepEqual(kinds, Array(15).fill("AlreadyExists"));
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  });

  it("delete then re-create works", async () => {
    const { containers } = stack.client;
    await containers.create(container("again-1", { labels: { round: "1" } }));
    await containers.delete("again-1");
    const second = await containers.create(container("again-1", { labels: { round: "2" } }));
    assert.deepEqual(second.labels, { round: "2" });
    await containers.delete("again-1");
    await containers.create(container("again-1", { labels: { round: "3" } }));
    assert.deepEqual((await containers.get("again-1")).labels, { round: "3" });
  });

  it("ids with dots and odd image names round-trip", async () => {
    const image = "registry.example.com:5000/team/app@sha256:" + "a".repeat(64);
    await stack.client.containers.create(container("task.0.0123456789", { image }), { namespace: "ns.with.dots" });
    const got = await stack.client.containers.get("task.0.0123456789", { namespace: "ns.with.dots" });
    assert.equal(got.image, image);
    assert.deepEqual((await stack.client.containers.list([], { namespace: "ns.with.dots" })).map((c) => c.id), ["task.0.0123456789"]);
    assert.deepEqual(await stack.client.containers.list([], { namespace: "ns" }), []);
  });

  it("a wildcard in an id cannot widen a subject", async () => {
    const error = await stack.client.containers.create(container("a.*")).catch((e: unknown) => e);
    assert.ok(error instanceof InvalidArgument);
    const star = await stack.client.containers.get(">").catch((e: unknown) => e);
    assert.ok(star instanceof NotFound);
  });

  it("missing namespace fails first", async () => {
    const error = await stack.client.containers.create(container("x1"), { namespace: "" }).catch((e: unknown) => e);
    assert.equal((error as { kind: string }).kind, "FailedPrecondition");
    assert.equal((error as Error).message, "namespace is required: failed precondition");
    const invalid = await stack.client.containers.list([], { namespace: "team a" }).catch((e: unknown) => e);
    assert.equal((invalid as { kind: string }).kind, "InvalidArgument");
    assert.match((invalid as Error).message, /^namespace validation: identifier "team a" must match/);
  });
});
