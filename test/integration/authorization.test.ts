/**
 * Per-namespace authorization with the users and permissions of
 * deploy/cluster/auth.conf, on a real nats-server. The test copies that file with
 * fresh random passwords in place of the example ones: the service connects as
 * `ctrmeta`, tenants as `team-a` and `team-b`, and `admin` checks what landed in the
 * streams.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { connect } from "@nats-io/transport-node";
import { AuthorizationError, headers as natsHeaders, PermissionViolationError, type NatsConnection } from "@nats-io/nats-core";
import { AckPolicy, jetstream, jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { Client } from "../../src/client/client.js";
import { MetadataError } from "../../src/domain/errors.js";
import { freePort, startNatsServer, type EmbeddedServer } from "../../src/nats/server.js";
import type { Instance } from "../../src/service.js";
import { container, startInstance } from "../helpers/nats.js";

const AUTH_CONF = fileURLToPath(new URL("../../../deploy/cluster/auth.conf", import.meta.url));
const EXAMPLE_PASSWORD = /"EXAMPLE-([a-z-]+)-password-replace-me"/g;
const USERS = ["admin", "ctrmeta", "team-a", "team-b"];

/** auth.conf with a random password for every example one; returns the text and the passwords by user. */
function authConfigWithRandomPasswords(): { text: string; passwords: Map<string, string> } {
  const passwords = new Map<string, string>();
  const text = readFileSync(AUTH_CONF, "utf8").replace(EXAMPLE_PASSWORD, (_match, user: string) => {
    const password = randomBytes(18).toString("hex");
    passwords.set(user, password);
    return JSON.stringify(password);
  });
  return { text, passwords };
}

/** Return whether `error` is NATS rejecting a subject for this user, as nats.js or the ctrmeta client reports it. */
function isPermissionError(error: unknown): boolean {
  if (error instanceof PermissionViolationError) return true;
  if (error instanceof MetadataError) return error.kind === "PermissionDenied";
  return error instanceof Error && error.cause instanceof PermissionViolationError;
}

async function assertDenied(attempt: Promise<unknown>, attemptName: string): Promise<void> {
  await assert.rejects(attempt, (error) => {
    assert.ok(isPermissionError(error), `${attemptName}: expected a permission error, got ${String(error)}`);
    return true;
  });
}

/** Subscribe and wait until the server closes the subscription; returns the error it was closed with. */
async function subscriptionError(nc: NatsConnection, subject: string): Promise<unknown> {
  const subscription = nc.subscribe(subject);
  const closed = await Promise.race([subscription.closed, new Promise((resolve) => setTimeout(() => resolve("still open"), 3000))]);
  subscription.unsubscribe();
  return closed;
}

/** Publish one message and return the permission error the server sends back, if any within 2 s. */
async function publishError(nc: NatsConnection, subject: string): Promise<unknown> {
  const errors: unknown[] = [];
  const statusReader = (async () => {
    for await (const status of nc.status()) {
      if (status.type === "error") errors.push(status.error);
    }
  })();
  nc.publish(subject, new TextEncoder().encode("{}"));
  await nc.flush();
  const deadline = Date.now() + 2000;
  while (errors.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
  void statusReader;
  return errors.find((error) => error instanceof PermissionViolationError && error.subject === subject);
}

describe("per-namespace authorization", () => {
  let dir: string;
  let server: EmbeddedServer;
  let instance: Instance;
  let passwords: Map<string, string>;
  let admin: NatsConnection;
  let adminJsm: JetStreamManager;
  let tenantA: Client;
  let tenantB: Client;

  const tenant = (name: string, extra: { inboxPrefix?: string } = { inboxPrefix: `_INBOX.${name}` }) =>
    Client.connect({ servers: server.url, user: name, pass: passwords.get(name)!, namespace: name, timeoutMs: 5000, ...extra });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ctrmeta-auth-"));
    const config = authConfigWithRandomPasswords();
    passwords = config.passwords;
    assert.deepEqual([...passwords.keys()].sort(), USERS, "every user of auth.conf has an example password to replace");
    writeFileSync(join(dir, "auth.conf"), config.text);
    writeFileSync(join(dir, "nats.conf"), "include ./auth.conf\n");
    server = await startNatsServer({ port: await freePort(), dataDir: dir, extraArgs: ["-c", join(dir, "nats.conf")] });

    // Snapshots every 5 events, so the service also writes to its object store as `ctrmeta`.
    instance = await startInstance(server.url, { user: "ctrmeta", pass: passwords.get("ctrmeta")!, snapshotEvery: 5 });
    admin = await connect({ servers: server.url, user: "admin", pass: passwords.get("admin")! });
    adminJsm = await jetstreamManager(admin);
    tenantA = await tenant("team-a");
    tenantB = await tenant("team-b");

    await tenantB.namespaces.create({ name: "team-b", labels: { owner: "b" } });
    await tenantB.containers.create(container("secret", { labels: { level: "1" } }));
  });
  after(async () => {
    await tenantA?.close();
    await tenantB?.close();
    await admin?.close();
    await instance?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("rejects a wrong password", async () => {
    await assert.rejects(connect({ servers: server.url, user: "team-a", pass: "wrong", reconnect: false }), AuthorizationError);
  });

  it("lets a tenant work in its namespace", async () => {
    await tenantA.namespaces.create({ name: "team-a", labels: { owner: "a" } });
    assert.deepEqual((await tenantA.namespaces.get("team-a")).labels, { owner: "a" });

    await tenantA.containers.create(container("web"));
    await tenantA.containers.update({ id: "web", labels: { tier: "front" } }, ["labels.tier"]);
    assert.equal((await tenantA.containers.get("web")).labels?.tier, "front");
    assert.deepEqual((await tenantA.containers.list()).map((record) => record.id), ["web"]);

    await tenantA.images.create({ name: "docker.io/library/nginx:1", target: { mediaType: "application/vnd.oci.image.index.v1+json", digest: `sha256:${"a".repeat(64)}`, size: 10 } });
    assert.equal((await tenantA.images.list()).length, 1);
    const lease = await tenantA.leases.create({ id: "build" });
    assert.equal(lease.id, "build");
    assert.deepEqual(await tenantA.snapshots.list("overlayfs"), []);
    assert.deepEqual(await tenantA.content.list(), []);

    const history = await tenantA.history.get("container", "web");
    assert.deepEqual(history.map((entry) => entry.type), ["container.created", "container.updated"]);
    const explanation = await tenantA.gc.explain("container", "web");
    assert.equal(explanation.reachable, true);

    await tenantA.containers.delete("web");
    await assert.rejects(tenantA.containers.get("web"), (error: MetadataError) => error.kind === "NotFound");
  });

  it("delivers live notifications of the tenant's namespace", async () => {
    const subscription = tenantA.nc.subscribe("ctrmeta.topic.team-a.>");
    await tenantA.nc.flush();
    await tenantA.containers.create(container("notified"));
    await tenantB.containers.create(container("not-for-a"));
    await tenantA.containers.delete("notified");

    const topics: string[] = [];
    for await (const message of subscription) {
      const envelope = JSON.parse(new TextDecoder().decode(message.data)) as { namespace: string; topic: string };
      assert.equal(envelope.namespace, "team-a");
      topics.push(envelope.topic);
      if (envelope.topic === "/containers/delete") break;
    }
    assert.deepEqual(topics, ["/containers/create", "/containers/delete"]);
  });

  it("denies every request to another namespace", async () => {
    const b = { namespace: "team-b" };
    const attempts: Array<[string, string, Record<string, unknown>]> = [
      ["containers", "get", { id: "secret" }],
      ["containers", "list", { filters: [] }],
      ["containers", "create", { container: container("planted") }],
      ["containers", "update", { container: { id: "secret", labels: { level: "9" } }, updateMask: ["labels.level"] }],
      ["containers", "delete", { id: "secret" }],
      ["images", "list", { filters: [] }],
      ["images", "create", { image: { name: "x", target: { mediaType: "m", digest: `sha256:${"b".repeat(64)}`, size: 1 } } }],
      ["namespaces", "get", { name: "team-b" }],
      ["namespaces", "update", { namespace: { name: "team-b", labels: { owner: "a" } }, updateMask: ["labels.owner"] }],
      ["namespaces", "delete", { name: "team-b" }],
      ["content", "list", { filters: [] }],
      ["content", "commit", { digest: `sha256:${"c".repeat(64)}`, size: 1 }],
      ["snapshots", "list", { snapshotter: "overlayfs", filters: [] }],
      ["snapshots", "prepare", { snapshotter: "overlayfs", key: "k" }],
      ["leases", "list", { filters: [] }],
      ["leases", "create", { id: "planted" }],
      ["history", "get", { kind: "container", key: "secret" }],
      ["gc", "explain", { kind: "container", key: "secret" }],
    ];
    for (const [service, method, body] of attempts) await assertDenied(tenantA.call(service, method, body, b), `${service}.${method}`);
    await assertDenied(tenantA.containers.list([], b), "chunked containers.list");

    const secret = await tenantB.containers.get("secret");
    assert.equal(secret.labels?.level, "1", "team-b's container is unchanged");
    assert.deepEqual((await tenantB.namespaces.get("team-b")).labels, { owner: "b" });
    assert.deepEqual((await tenantB.containers.list()).map((record) => record.id), ["not-for-a", "secret"]);
  });

  it("rejects a header naming another namespace", async () => {
    const headers = natsHeaders();
    headers.set("containerd-namespace", "team-b");
    const reply = await tenantA.nc.request("ctrmeta.api.v1.team-a.containers.get", new TextEncoder().encode(JSON.stringify({ id: "secret" })), { headers, timeout: 5000 });
    assert.equal(reply.headers?.get("Ctrmeta-Error-Kind"), "InvalidArgument");
    assert.doesNotMatch(new TextDecoder().decode(reply.data), /"level"/, "the reply carries no data of team-b");
  });

  it("rejects another namespace's history", async () => {
    await assert.rejects(
      tenantA.call("history", "get", { kind: "namespace", key: "team-b" }, { namespace: "team-a" }),
      (error: MetadataError) => error.kind === "InvalidArgument",
    );
  });

  it("denies cluster-wide requests", async () => {
    const none = { namespace: "" };
    const own = { namespace: "team-a" };
    await assertDenied(tenantA.namespaces.list(), "namespaces.list");
    await assertDenied(tenantA.call("gc", "collect", {}, none), "gc.collect");
    await assertDenied(tenantA.call("gc", "status", {}, none), "gc.status");
    await assertDenied(tenantA.call("status", "get", {}, none), "status.get");
    await assertDenied(tenantA.call("status", "instance", {}, none), "status.instance");
    // The same methods through the tenant's own namespace token.
    await assertDenied(tenantA.call("gc", "collect", {}, own), "gc.collect in team-a");
    await assertDenied(tenantA.call("gc", "status", {}, own), "gc.status in team-a");
    await assertDenied(tenantA.call("status", "get", {}, own), "status.get in team-a");
    await assertDenied(tenantA.nc.request("$SRV.INFO.ctrmeta", undefined, { timeout: 5000 }), "$SRV.INFO");
    await assertDenied(tenantA.nc.request("ctrmeta.internal.status", undefined, { timeout: 5000 }), "internal status");
  });

  it("denies subscriptions outside the tenant's notifications and inbox", async () => {
    for (const subject of ["ctrmeta.topic.team-b.>", "ctrmeta.topic.>", "ctrmeta.topic.*.containers.>", "ctrmeta.log.>", "ctrmeta.api.v1.team-b.>", "_INBOX.>", "_INBOX.team-b.>"]) {
      const error = await subscriptionError(tenantA.nc, subject);
      assert.ok(error instanceof PermissionViolationError, `subscribe ${subject}: expected a permission error, got ${String(error)}`);
    }
  });

  it("denies requests without the tenant's inbox prefix", async () => {
    const defaultInbox = await tenant("team-a", {});
    try {
      await assertDenied(defaultInbox.containers.list(), "containers.list with replies to _INBOX.<id>");
    } finally {
      await defaultInbox.close();
    }
  });

  it("denies JetStream consumers and reads of the streams", async () => {
    const jsm = await jetstreamManager(tenantA.nc, { checkAPI: false });
    await assertDenied(jsm.streams.getMessage("CTRMETA_LOG", { seq: 1 }), "STREAM.MSG.GET on the log");
    await assertDenied(tenantA.nc.request("$JS.API.DIRECT.GET.CTRMETA_LOG", new TextEncoder().encode('{"seq":1}'), { timeout: 5000 }), "DIRECT.GET on the log");
    await assertDenied(jsm.streams.info("CTRMETA_TOPICS"), "STREAM.INFO");
    await assertDenied(tenantA.nc.request("$JS.API.INFO", undefined, { timeout: 5000 }), "account info");
    await assertDenied(
      jsm.consumers.add("CTRMETA_TOPICS", { name: "spy", filter_subject: "ctrmeta.topic.team-b.>", ack_policy: AckPolicy.None }),
      "consumer on team-b's topics",
    );
    await assertDenied(
      jsm.consumers.add("CTRMETA_TOPICS", { durable_name: "mine", filter_subject: "ctrmeta.topic.team-a.>", ack_policy: AckPolicy.Explicit }),
      "durable consumer on the tenant's own topics",
    );
    await assertDenied(
      (async () => {
        for await (const event of tenantA.events.subscribe({ namespace: "team-b", from: "start" })) return event;
      })(),
      "events.subscribe to team-b",
    );
  });

  it("denies publishing into the log and the topics", async () => {
    const logBefore = (await adminJsm.streams.info("CTRMETA_LOG")).state.messages;
    const topicsBefore = (await adminJsm.streams.info("CTRMETA_TOPICS")).state.messages;

    for (const subject of ["ctrmeta.log.ctr.team-a.forged", "ctrmeta.log.ctr.team-b.forged", "ctrmeta.topic.team-a.containers.create", "ctrmeta.topic.team-b.containers.create"]) {
      const error = await publishError(tenantA.nc, subject);
      assert.ok(error instanceof PermissionViolationError, `publish ${subject}: expected a permission error`);
      await assertDenied(jetstream(tenantA.nc).publish(subject, new TextEncoder().encode("{}")), `JetStream publish ${subject}`);
    }

    assert.equal((await adminJsm.streams.info("CTRMETA_LOG")).state.messages, logBefore, "the log is unchanged");
    assert.equal((await adminJsm.streams.info("CTRMETA_TOPICS")).state.messages, topicsBefore, "the topics stream is unchanged");
  });

  it("runs the service with the service user's permissions", async () => {
    const adminClient = await Client.connect({ servers: server.url, user: "admin", pass: passwords.get("admin")!, namespace: "team-b" });
    try {
      const names = (await adminClient.namespaces.list()).map((ns) => ns.name);
      assert.deepEqual(names, ["team-a", "team-b"]);
      const stats = await adminClient.gc.collect();
      assert.ok(stats.startedAt, "a collection ran");
      const status = await adminClient.status.get();
      assert.ok(status.instances, "the status lists the instances");
    } finally {
      await adminClient.close();
    }

    // More than five events were applied, so the elected instance wrote a view snapshot.
    const deadline = Date.now() + 10_000;
    let stored = 0;
    while (stored === 0 && Date.now() < deadline) {
      stored = (await adminJsm.streams.info("OBJ_ctrmeta-projections")).state.messages;
      if (stored === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(stored > 0, "a view snapshot is in the object store");
  });

  // Last, because on failure it leaves a foreign message in the log.
  it(
    "keeps replies out of the log",
    async () => {
      const before = (await adminJsm.streams.info("CTRMETA_LOG")).state.messages;
      const body = new TextEncoder().encode(JSON.stringify({ filters: [] }));
      tenantA.nc.publish("ctrmeta.api.v1.team-a.containers.list", body, { reply: "ctrmeta.log.ctr.team-b.reply" });
      await tenantA.nc.flush();
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal((await adminJsm.streams.info("CTRMETA_LOG")).state.messages, before, "the log is unchanged");
    },
  );
});
