/**
 * Faults on a 3-node cluster with R3 streams, under a load of concurrent clients:
 * (a) ctrmeta instances killed with SIGKILL and started again, (b) one nats-server
 * killed with SIGKILL and started again, (c) the whole cluster restarted. After each
 * scenario every recorded outcome is checked against the log: acknowledged writes
 * are in it, no request took effect twice, reads match the log at their revision,
 * and the final state agrees with the acknowledged history.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it, type TestContext } from "node:test";
import { connect } from "@nats-io/transport-node";
import { Client } from "../../src/client/client.js";
import { startCluster, type TestCluster } from "../helpers/cluster.js";
import { checkHistory, readLog, runClient, type LogEntry, type OpRecord } from "../helpers/history.js";
import { startInstance } from "../helpers/nats.js";
import { ServiceProcess } from "../helpers/services.js";

const SEED = Number(process.env.CTRMETA_FAULT_SEED ?? 11);
const CLIENTS = 6;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("faults on a 3-node cluster", () => {
  let cluster: TestCluster;
  let services: ServiceProcess[] = [];
  let clients: Client[] = [];

  before(async () => {
    cluster = await startCluster();
    services = ["a", "b", "c"].map((name) => new ServiceProcess(cluster.servers, name, ["--replicas", "3"]));
    for (const service of services) service.start();
    // Clients that keep reconnecting through a whole-cluster restart.
    clients = await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        const connection = await connect({ servers: [...cluster.urls], maxReconnectAttempts: -1, reconnectTimeWait: 250, noAsyncTraces: true });
        return Client.connect({ connection, timeoutMs: 3000 });
      }),
    );
    for (let attempt = 0; ; attempt++) {
      if (await clients[0]!.namespaces.list({ timeoutMs: 1000 }).then(() => true, () => false)) break;
      if (attempt > 300) throw new Error(`ctrmeta did not start on the cluster:\n${services.map((s) => s.stderr).join("\n")}`);
      await sleep(100);
    }
  });

  after(async () => {
    for (const client of clients) {
      await client.close();
      await client.nc.close();
    }
    for (const service of services) await service.kill();
    await cluster?.close();
  });

  /** Run the workload while `fault` runs, then check the history of this scenario's namespace. */
  async function scenario(t: TestContext, namespace: string, fault: () => Promise<void>): Promise<void> {
    let stop = false;
    let completed = 0;
    const running = clients.map((client, index) =>
      runClient(client, index, { namespace, seed: SEED, attempts: 40 }, () => {
        completed++;
        return stop;
      }),
    );
    await sleep(1000);
    await fault();
    // Let the clients make progress again after the fault before stopping them.
    const progressed = completed + 300;
    for (const deadline = Date.now() + 30_000; completed < progressed && Date.now() < deadline; ) await sleep(100);
    stop = true;
    const records: OpRecord[] = (await Promise.all(running)).flat();

    const log = await readLog(clients[0]!);
    const rebuilt = await startInstance(cluster.servers, { gc: false, replicas: 3 });
    let finalIds: Set<string>;
    try {
      finalIds = new Set(rebuilt.projection.state.namespaces.get(namespace)?.containers.keys() ?? []);
    } finally {
      await rebuilt.close();
    }
    const report = checkHistory(records, log, namespace, finalIds);
    t.diagnostic(
      JSON.stringify({
        seed: SEED,
        operations: report.operations,
        acknowledged: report.acknowledged,
        failed: report.failed,
        unknown: report.unknown,
        lost: report.lost.length,
        appliedTwice: report.appliedTwice.length,
        inconsistentReads: report.inconsistentReads.length,
        invariantViolations: report.invariantViolations.length,
      }),
    );
    if (report.invariantViolations.length > 0) t.diagnostic(report.invariantViolations.slice(0, 5).join("; "));
    for (const service of services) if (!service.running) t.diagnostic(`an instance exited: ${service.stderr.slice(-500)}`);
    if (process.env.CTRMETA_FAULT_LOGS) for (const service of services) t.diagnostic(service.logs.slice(-4000));
    if (report.lost.length > 0) describeLost(t, records, log);
    const notFound = records.filter((record) => record.kind === "NotFound").slice(0, 3);
    if (notFound.length > 0) t.diagnostic(JSON.stringify(notFound));
    assert.ok(report.acknowledged > 100, `only ${report.acknowledged} acknowledged operations`);
    assert.deepEqual(report.lost, [], "acknowledged writes are in the log");
    assert.deepEqual(report.appliedTwice, [], "no request took effect twice");
    assert.deepEqual(report.inconsistentReads, [], "reads match the log at their revision");
    assert.deepEqual(report.invariantViolations, [], "the final state agrees with the acknowledged history");
  }

  /**
   * Print the log's events where lost writes were acknowledged, the instances'
   * warnings and errors, and the servers' log lines about leaders and catch-up, so
   * that a failure in CI can be explained.
   */
  function describeLost(t: TestContext, records: OpRecord[], log: LogEntry[]): void {
    const lost = records.filter(
      (record) => record.outcome === "ok" && record.op !== "get" && !log.some((entry) => entry.envelope.req === record.requestId && entry.seq === record.revision),
    );
    for (const record of lost.slice(0, 5)) {
      const times = `${new Date(record.start).toISOString()} to ${new Date(record.end).toISOString()}`;
      t.diagnostic(`lost: ${record.op} ${record.id} (${record.requestId}), ${record.attempts} attempts, ${times}, acknowledged at ${record.revision}`);
      const elsewhere = log.filter((entry) => entry.envelope.req === record.requestId).map((entry) => entry.seq);
      t.diagnostic(`  the request's events in the log: ${elsewhere.length > 0 ? elsewhere.join(", ") : "none"}`);
      for (const entry of log.filter((entry) => Math.abs(entry.seq - record.revision!) <= 2)) {
        t.diagnostic(`  log ${entry.seq}: ${entry.envelope.req} ${entry.envelope.event.type} at ${entry.envelope.time}`);
      }
    }
    const gaps = log.filter((entry, index) => index > 0 && entry.seq !== log[index - 1]!.seq + 1).length;
    t.diagnostic(`log: ${log.length} events, last sequence ${log.at(-1)?.seq}, ${gaps} gaps`);
    services.forEach((service, index) => {
      // The instances log JSON lines at warn level and above. Their errors, and their
      // reports about duplicates and the view, tell what happened to the writes.
      for (const line of service.logs.split("\n")) {
        let entry: { level?: number; msg?: string; err?: unknown; time?: number };
        try {
          entry = JSON.parse(line) as typeof entry;
        } catch {
          continue;
        }
        if ((entry.level ?? 0) < 50 && !/duplicate|under the view/.test(entry.msg ?? "")) continue;
        const { err, time, ...fields } = entry;
        t.diagnostic(`instance ${index} at ${new Date(time ?? 0).toISOString()}: ${JSON.stringify(fields)}${err ? ` (${String((err as { message?: string }).message)})` : ""}`);
      }
    });
    for (const node of cluster.nodes) {
      const lines = readFileSync(node.logFile, "utf8")
        .split("\n")
        .filter((line) => /stream leader for|Catchup for stream|RAFT|Resetting|mismatch|Initiating Shutdown|Starting nats-server/.test(line));
      for (const line of lines.slice(-40)) t.diagnostic(`${node.name}: ${line}`);
    }
  }

  it("streams are R3", async () => {
    // A status request gathers every instance's reply; allow for a loaded machine.
    const status = await clients[0]!.status.get({ timeoutMs: 15_000 });
    const streams = status.streams as Record<string, { replicas: number }>;
    assert.equal(streams.CTRMETA_LOG!.replicas, 3);
    assert.equal(streams.CTRMETA_TOPICS!.replicas, 3);
  });

  it("(a) instances killed and restarted", async (t) => {
    await scenario(t, "fault-a", async () => {
      for (let round = 0; round < 3; round++) {
        const victim = services[round]!;
        await victim.kill();
        await sleep(700);
        victim.start();
        await sleep(900);
      }
    });
  });

  it("(b) one server killed and restarted", async (t) => {
    await scenario(t, "fault-b", async () => {
      for (const index of [1, 2]) {
        await cluster.kill(index);
        await sleep(2000);
        await cluster.restart(index);
        // Only one node is down at a time, as R3 requires. The next kill waits until
        // this node's replicas have caught up (`/healthz`), as a Kubernetes rolling
        // update does with the startup probe in deploy/kubernetes/nats.yaml.
        const restarted = Date.now();
        await cluster.waitForHealthy(index, 60_000);
        t.diagnostic(`node ${index} healthy ${Date.now() - restarted} ms after its restart`);
        await sleep(1000);
      }
    });
  });

  it("(c) whole cluster restarted", async (t) => {
    await scenario(t, "fault-c", async () => {
      await cluster.restartAll();
      await sleep(1000);
    });
  });
});
