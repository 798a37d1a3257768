/**
 * The gRPC endpoint with ctrmeta's own gRPC client: socket handling, streams,
 * status codes, event filters, and the methods ctrmeta does not serve.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Body } from "../../src/api/wire.js";
import { ContainerdClient } from "../../src/grpc/client.js";
import { GrpcServer, socketPath } from "../../src/grpc/server.js";
import { container, quietLogger, startInstance, startStack, type Stack } from "../helpers/nats.js";
import { missingContainerdProtos } from "../../src/grpc/protos.js";

const NS = "grpc-test";

async function failure(promise: Promise<unknown>): Promise<{ kind: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    const typed = error as { kind?: string; message?: string };
    return { kind: typed.kind ?? "none", message: typed.message ?? "" };
  }
  assert.fail("the call succeeded");
}

describe("gRPC endpoint", { skip: missingContainerdProtos() ?? false }, () => {
  let dir: string;
  let socket: string;
  let stack: Stack;
  let client: ContainerdClient;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ctrmeta-grpc-"));
    socket = join(dir, "ctrmeta.sock");
    // A socket file left by a crashed server is removed at start.
    const stale = createServer().listen(socket);
    await new Promise((resolve) => stale.once("listening", resolve));
    stale.close();
    writeFileSync(join(dir, "not-a-socket"), "data");
    stack = await startStack({ grpcAddress: `unix://${socket}` });
    client = ContainerdClient.connect(socket);
  });

  after(async () => {
    client?.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("creates the socket with mode 0600", () => {
    assert.equal(statSync(socket).mode & 0o777, 0o600);
  });

  it("refuses a path that is not a socket", async () => {
    const error = await GrpcServer.start({ address: join(dir, "not-a-socket"), services: {}, namespaceOf: () => "", deps: {}, log: quietLogger }).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    assert.match(error?.message ?? "", /exists and is not a socket/);
  });

  it("fails an instance start on a bad socket path", async () => {
    await assert.rejects(startInstance(stack.nats.url, { grpcAddress: join(dir, "not-a-socket") }), /exists and is not a socket/);
  });

  it("refuses a socket another server listens on", async () => {
    const error = await GrpcServer.start({ address: socket, services: {}, namespaceOf: () => "", deps: {}, log: quietLogger }).then(
      () => undefined,
      (caught: unknown) => caught as Error,
    );
    assert.match(error?.message ?? "", /another server is listening/);
  });

  it("parses socket addresses", () => {
    assert.equal(socketPath("unix:///run/x.sock"), "/run/x.sock");
    assert.equal(socketPath("/run/x.sock"), "/run/x.sock");
    assert.throws(() => socketPath("tcp://127.0.0.1:1"), /expected a unix socket path/);
  });

  it("requires a namespace as containerd does", async () => {
    const error = await failure(client.unary("containers", "List", {}));
    assert.equal(error.kind, "FailedPrecondition");
    assert.match(error.message, /namespace is required/);
  });

  it("creates namespaces named in the body", async () => {
    await client.unary("namespaces", "Create", { namespace: { name: NS, labels: { team: "a" } } }, { namespace: "default" });
    const { namespace } = await client.unary("namespaces", "Get", { name: NS });
    assert.deepEqual(namespace, { name: NS, labels: { team: "a" } });
  });

  it("streams containers one per message", async () => {
    for (const id of ["c-1", "c-2", "c-3"]) await client.unary("containers", "Create", { container: container(id, { labels: { n: id } }) }, { namespace: NS });
    const replies = await client.collect("containers", "ListStream", { filters: ["labels.n~=c-[12]"] }, { namespace: NS });
    assert.deepEqual(replies.map((reply) => (reply.container as Body).id), ["c-1", "c-2"]);
    const spec = (replies[0]!.container as Body).spec as Body;
    assert.equal(spec.typeUrl, "types.containerd.io/opencontainers/runtime-spec/1/Spec");
    assert.deepEqual((spec.value as Body).process, { args: ["sh"], cwd: "/" });
  });

  it("maps error kinds to containerd's codes", async () => {
    const missing = await failure(client.unary("containers", "Get", { id: "nope" }, { namespace: NS }));
    assert.equal(missing.kind, "NotFound");
    assert.equal(missing.message, 'container "nope" in namespace "grpc-test": not found');
    const duplicate = await failure(client.unary("containers", "Create", { container: container("c-1") }, { namespace: NS }));
    assert.equal(duplicate.kind, "AlreadyExists");
    const filter = await failure(client.unary("containers", "List", { filters: ["id=="] }, { namespace: NS }));
    assert.equal(filter.kind, "InvalidArgument");
  });

  it("applies the record size limit of the NATS API", async () => {
    // 200 labels of 4000 bytes each: every label is valid, the record is 800 KB.
    const labels = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, "v".repeat(4000)]));
    const tooLarge = await failure(client.unary("containers", "Create", { container: container("huge", { labels }) }, { namespace: NS }));
    assert.equal(tooLarge.kind, "InvalidArgument");
    assert.match(tooLarge.message, /container "huge": the record would encode to \d+ bytes, above the maximum of 524288 bytes/);
    assert.equal((await failure(client.unary("containers", "Get", { id: "huge" }, { namespace: NS }))).kind, "NotFound");
  });

  it("serves snapshot records: Stat, List, Usage, Update, Remove", async () => {
    await stack.client.snapshots.prepare({ snapshotter: "native", key: "s-1", parent: "" }, { namespace: NS });
    const { info } = await client.unary("snapshots", "Stat", { snapshotter: "native", key: "s-1" }, { namespace: NS });
    assert.equal((info as Body).kind, "active");
    const listed = await client.collect("snapshots", "List", { snapshotter: "native" }, { namespace: NS });
    assert.deepEqual(listed.flatMap((reply) => (reply.info as Body[]).map((item) => item.name)), ["s-1"]);
    assert.deepEqual(await client.unary("snapshots", "Usage", { snapshotter: "native", key: "s-1" }, { namespace: NS }), { size: 0, inodes: 0 });
    const usageMissing = await failure(client.unary("snapshots", "Usage", { snapshotter: "native", key: "nope" }, { namespace: NS }));
    assert.equal(usageMissing.kind, "NotFound");
    const updated = await client.unary("snapshots", "Update", { snapshotter: "native", info: { name: "s-1", labels: { a: "b" } }, updateMask: ["labels.a"] }, { namespace: NS });
    assert.deepEqual((updated.info as Body).labels, { a: "b" });
    const unknownSnapshotter = await failure(client.unary("snapshots", "Stat", { snapshotter: "zfs", key: "s-1" }, { namespace: NS }));
    assert.equal(unknownSnapshotter.kind, "InvalidArgument");
    await client.unary("snapshots", "Remove", { snapshotter: "native", key: "s-1" }, { namespace: NS });
  });

  it("answers Unimplemented where ctrmeta moves no bytes", async () => {
    const prepare = await failure(client.unary("snapshots", "Prepare", { snapshotter: "native", key: "s-2" }, { namespace: NS }));
    assert.equal(prepare.kind, "NotImplemented");
    assert.match(prepare.message, /Snapshots\/Prepare: ctrmeta keeps snapshot records only/);
    const publish = await failure(client.unary("events", "Publish", { topic: "/x" }, { namespace: NS }));
    assert.equal(publish.kind, "NotImplemented");
    const status = await failure(client.unary("content", "ListStatuses", {}, { namespace: NS }));
    assert.equal(status.kind, "NotImplemented");
  });

  it("reads content: NotFound when missing, else Unimplemented", async () => {
    const digest = `sha256:${"d".repeat(64)}`;
    const missing = await failure(client.collect("content", "Read", { digest }, { namespace: NS }));
    assert.equal(missing.kind, "NotFound");
    await stack.client.content.commit({ digest, size: 10, labels: { "containerd.io/gc.root": "x" } }, { namespace: NS });
    const present = await failure(client.collect("content", "Read", { digest }, { namespace: NS }));
    assert.equal(present.kind, "NotImplemented");
    const listed = await client.collect("content", "List", {}, { namespace: NS });
    assert.deepEqual(listed.flatMap((reply) => (reply.info as Body[]).map((item) => [item.digest, item.size])), [[digest, 10]]);
  });

  it("reports version, server uuid and plugins", async () => {
    const version = await client.unary("version", "Version", {});
    assert.equal(version.version, "0.1.0");
    assert.equal(typeof version.revision, "string");
    const server = await client.unary("introspection", "Server", {});
    assert.match(String(server.uuid), /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const { plugins } = await client.unary("introspection", "Plugins", { filters: ["id==snapshots"] });
    assert.deepEqual(plugins, [
      { type: "io.containerd.grpc.v1", id: "snapshots", requires: ["io.containerd.metadata.v1"], exports: { methods: "List,Remove,Stat,Update,Usage" } },
    ]);
  });

  it("filters subscriptions on topic, namespace and event fields", async () => {
    const abort = new AbortController();
    const received: Body[] = [];
    const subscription = (async () => {
      const filters = ['topic~="^/containers/",namespace==grpc-test,event.labels.watch==yes', 'topic=="/namespaces/delete"'];
      for await (const envelope of client.stream("events", "Subscribe", { filters }, { signal: abort.signal })) {
        received.push(envelope);
        if (envelope.topic === "/namespaces/delete" && envelope.namespace === "last") break;
      }
    })();
    // The server subscribes before its first reply; wait until a probe shows it is live.
    for (let attempt = 0; received.length === 0; attempt++) {
      assert.ok(attempt < 50, "no event reached the subscription");
      await client.unary("namespaces", "Create", { namespace: { name: `probe-${attempt}` } });
      await client.unary("namespaces", "Delete", { name: `probe-${attempt}` });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    received.length = 0;
    await client.unary("containers", "Create", { container: container("w-1", { labels: { watch: "yes" } }) }, { namespace: NS });
    await client.unary("containers", "Create", { container: container("w-2") }, { namespace: NS });
    await client.unary("containers", "Update", { container: { id: "w-1", labels: { watch: "yes", x: "1" } }, updateMask: ["labels.x"] }, { namespace: NS });
    await client.unary("namespaces", "Create", { namespace: { name: "last" } });
    await client.unary("namespaces", "Delete", { name: "last" });
    await subscription;
    abort.abort();
    assert.deepEqual(
      received.map((envelope) => `${envelope.namespace} ${envelope.topic}`),
      ["grpc-test /containers/update", "last /namespaces/delete"],
    );
    const event = received[0]!.event as Body;
    assert.equal(event.typeUrl, "containerd.events.ContainerUpdate");
    assert.equal(typeof event.valueBase64, "string");
  });

  it("fails a subscription with a bad filter as containerd does", async () => {
    const error = await failure(client.collect("events", "Subscribe", { filters: ["topic=="] }));
    assert.equal(error.kind, "Unknown");
    assert.match(error.message, /^subscription error: failed parsing subscription filters: filters: parse error/);
  });
});
