/**
 * ctrmeta with R3 streams on a 3-node nats-server cluster: two instances connected
 * to different nodes, each with a client connected to its node only.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import type { Instance } from "../../src/service.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { container, startInstance } from "../helpers/nats.js";

describe("three-node cluster", () => {
  let cluster: TestCluster;
  let first: Instance;
  let second: Instance;
  let firstClient: Client;
  let secondClient: Client;

  before(async () => {
    cluster = await startCluster();
    first = await startInstance(cluster.urls[0]!, { name: "first", replicas: 3 });
    second = await startInstance(cluster.urls[2]!, { name: "second", replicas: 3, notify: false });
    firstClient = await Client.connect({ servers: cluster.urls[0]! });
    secondClient = await Client.connect({ servers: cluster.urls[2]! });
  });
  after(async () => {
    await firstClient?.close();
    await secondClient?.close();
    await second?.close();
    await first?.close();
    await cluster?.close();
  });

  it("creates every stream with three replicas", async () => {
    for (const stream of ["CTRMETA_LOG", "CTRMETA_TOPICS", "KV_ctrmeta-election", "OBJ_ctrmeta-projections"]) {
      const info = await first.jsm.streams.info(stream);
      assert.equal(info.config.num_replicas, 3, `${stream} num_replicas`);
      assert.ok(info.cluster?.leader, `${stream} has a leader`);
      assert.equal(info.cluster?.replicas?.length, 2, `${stream} has two followers`);
    }
  });

  it("writes and reads through one node", async () => {
    await firstClient.containers.create(container("web", { labels: { tier: "front" } }));
    await firstClient.containers.update({ id: "web", labels: { tier: "back" } }, ["labels.tier"]);

    const read = await firstClient.containers.get("web");
    assert.equal(read.labels?.tier, "back");
    const ids = (await firstClient.containers.list()).map((record) => record.id);
    assert.deepEqual(ids, ["web"]);
  });

  it("reads a write through another node", async () => {
    const created = await firstClient.call("containers", "create", { container: container("api") });
    assert.ok(created.revision, "the create reply carries its revision");

    await second.projection.waitFor(created.revision, 10_000);
    const view = second.projection.state.namespaces.get("default")?.containers.get("api");
    assert.equal(view?.id, "api", "the instance on node 2 has the container in its view");

    const read = await secondClient.containers.get("api", { minRevision: created.revision });
    assert.equal(read.id, "api");
  });
});

describe("cluster helper", () => {
  let cluster: TestCluster;
  before(async () => {
    cluster = await startCluster();
  });
  after(async () => {
    await cluster?.close();
  });

  function processExists(pid: number): boolean {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  it("kills a node and starts it again", async () => {
    const pid = cluster.pid(1)!;
    await cluster.kill(1);
    assert.equal(cluster.isRunning(1), false);
    assert.equal(cluster.pid(1), undefined);
    assert.equal(processExists(pid), false, "the killed process is gone");

    const leader = await cluster.waitForMetaLeader();
    assert.notEqual(leader, cluster.nodes[1]!.name, "the leader is a running node");

    await cluster.restart(1);
    assert.equal(cluster.isRunning(1), true);
    assert.notEqual(cluster.pid(1), pid);
    // waitForMetaLeader() queries every running node, the restarted one included.
    assert.ok(await cluster.waitForMetaLeader());
    const jsz = (await cluster.monitor(1, "/jsz")) as { meta_cluster?: { leader?: string } };
    assert.ok(jsz.meta_cluster?.leader, "the restarted node knows the leader");
  });

  it("waits for a node to be healthy", async () => {
    await cluster.restart(2);
    await cluster.waitForHealthy(2);
    const response = await fetch(`http://127.0.0.1:${cluster.nodes[2]!.monitorPort}/healthz`);
    assert.equal(response.status, 200);

    await cluster.stop(2);
    await assert.rejects(cluster.waitForHealthy(2, 500), /node 2 not healthy within 500 ms/);
    await cluster.restart(2);
    await cluster.waitForHealthy(2);
  });

  it("restarts every node", async () => {
    const before = cluster.nodes.map((node) => cluster.pid(node.index));
    await cluster.restartAll();
    for (const node of cluster.nodes) {
      assert.equal(cluster.isRunning(node.index), true);
      assert.notEqual(cluster.pid(node.index), before[node.index]);
    }
    assert.ok(await cluster.waitForMetaLeader());
  });

  it("stops every node on close", async () => {
    const pids = cluster.nodes.map((node) => cluster.pid(node.index)!);
    await cluster.close();
    await cluster.close();
    for (const pid of pids) assert.equal(processExists(pid), false, `process ${pid} is gone`);
  });
});
