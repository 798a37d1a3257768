/**
 * Crashes of ctrmeta instances under load: three instances serve concurrent
 * clients while one after another is killed with SIGKILL and started again. Every
 * recorded outcome is then checked against the log.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Client } from "../../src/client/client.js";
import { checkHistory, readLog, runClient, type OpRecord } from "../helpers/history.js";
import { startInstance, startTestServer, type TestServer } from "../helpers/nats.js";
import { ServiceProcess } from "../helpers/services.js";

const SEED = Number(process.env.CTRMETA_FAULT_SEED ?? 7);
const NAMESPACE = "faults";

describe("instance crashes under load", () => {
  let nats: TestServer;
  let services: ServiceProcess[] = [];
  let clients: Client[] = [];
  before(async () => {
    nats = await startTestServer();
    services = ["a", "b", "c"].map((name) => new ServiceProcess(nats.url, name));
    for (const service of services) service.start();
    clients = await Promise.all(Array.from({ length: 6 }, () => Client.connect({ servers: nats.url, timeoutMs: 3000 })));
    for (let attempt = 0; attempt < 100; attempt++) {
      if (await clients[0]!.namespaces.list({ timeoutMs: 500 }).then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    for (const service of services) await service.kill();
    await nats?.close();
  });

  it("kill -9 instances while clients write", async (t) => {
    let stop = false;
    const running = clients.map((client, index) => runClient(client, index, { namespace: NAMESPACE, seed: SEED }, () => stop));

    // Kill and restart each instance in turn, one at a time.
    for (let round = 0; round < 6; round++) {
      await new Promise((resolve) => setTimeout(resolve, 1200));
      const victim = services[round % services.length]!;
      await victim.kill();
      await new Promise((resolve) => setTimeout(resolve, 600));
      victim.start();
    }
    await new Promise((resolve) => setTimeout(resolve, 1500));
    stop = true;
    const records: OpRecord[] = (await Promise.all(running)).flat();

    const log = await readLog(clients[0]!);
    const rebuilt = await startInstance(nats.url, { gc: false });
    let finalIds: Set<string>;
    try {
      finalIds = new Set(rebuilt.projection.state.namespaces.get(NAMESPACE)?.containers.keys() ?? []);
    } finally {
      await rebuilt.close();
    }
    const report = checkHistory(records, log, NAMESPACE, finalIds);
    t.diagnostic(JSON.stringify({ seed: SEED, ...report, lost: report.lost.length, appliedTwice: report.appliedTwice.length, inconsistentReads: report.inconsistentReads.length, invariantViolations: report.invariantViolations.length }));
    assert.ok(report.acknowledged > 200, `only ${report.acknowledged} acknowledged operations`);
    assert.deepEqual(report.lost, []);
    assert.deepEqual(report.appliedTwice, []);
    assert.deepEqual(report.inconsistentReads, []);
    assert.deepEqual(report.invariantViolations, []);
  });
});
