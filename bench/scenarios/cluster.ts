/**
 * Three ctrmeta instances (`--instances` sets how many) on a 3-node nats-server
 * cluster with replicated (R3) streams, loaded with 64 concurrent CreateContainer requests spread over the
 * nodes, against raw pipelined publishing of the same bodies to an R3 stream. It
 * also measures the raw command ceiling on the same cluster, with as many raw
 * command services as instances and 64 concurrent requests. That shows how much of
 * the gap the shape of a command (request, publish with expected sequence, reply)
 * explains.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Client } from "../../src/client/client.js";
import { startCluster } from "../../test/helpers/cluster.js";
import { containerBody } from "../lib/fixture.js";
import { Host } from "../lib/host.js";
import { median, runLoad } from "../lib/measure.js";
import type { BenchOptions } from "../lib/options.js";
import { createRawStream, rawCommand, RAW_LOG_PREFIX } from "../lib/raw.js";
import { Report } from "../lib/report.js";
import { instanceOverrides, NAMESPACE } from "../lib/rig.js";

const encoder = new TextEncoder();

export async function clusterR3(options: BenchOptions): Promise<Report> {
  const report = new Report("cluster");
  const count = options.count ?? (options.quick ? 1000 : 4000);
  const instances = options.instances ?? 3;
  const cluster = await startCluster();
  const hosts: Host[] = [];
  const clients: Client[] = [];
  const rawConnections: NatsConnection[] = [];
  try {
    for (let index = 0; index < instances; index++) hosts.push(await Host.instance(cluster.urls[index]!, { replicas: 3, name: `bench-${index}`, ...instanceOverrides() }, `ctrmeta-${index}`));
    for (let index = 0; index < 6; index++) clients.push(await Client.connect({ servers: cluster.urls[index % 3]!, namespace: NAMESPACE }));
    for (let index = 0; index < instances; index++) hosts.push(await Host.raw(cluster.urls[index]!, new Uint8Array()));
    for (let index = 0; index < 6; index++) rawConnections.push(await connect({ servers: cluster.urls[index % 3]!, noAsyncTraces: true }));
    const nc = await connect({ servers: cluster.urls[0]!, noAsyncTraces: true });
    await createRawStream(await jetstreamManager(nc), 3);
    const js = jetstream(nc);

    const rawRates: number[] = [];
    const ctrmetaRates: number[] = [];
    const commandRates: number[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const raw = await runLoad({
        concurrency: 256,
        count,
        warmup: 200,
        operation: (index) => js.publish(`${RAW_LOG_PREFIX}.r${round}-${index}`, encoder.encode(JSON.stringify({ container: containerBody(`r${round}-${index}`, index) }))),
      });
      const command = await runLoad({
        concurrency: 64,
        count,
        warmup: 200,
        operation: (index) => {
          const body = containerBody(`q${round}-${index}`, index);
          return rawCommand(rawConnections[index % rawConnections.length]!, body.id, { container: body });
        },
      });
      const ctrmeta = await runLoad({
        concurrency: 64,
        count,
        warmup: 200,
        operation: (index) => clients[index % clients.length]!.containers.create({ ...containerBody(`c${round}-${index}`, index) }),
      });
      rawRates.push(raw.rate);
      ctrmetaRates.push(ctrmeta.rate);
      commandRates.push(command.rate);
      console.log(`  round ${round}: raw R3 pipelined ${raw.rate.toFixed(0)}/s, raw R3 commands ${command.rate.toFixed(0)}/s, ctrmeta ${ctrmeta.rate.toFixed(0)} cmd/s (p50 ${ctrmeta.p50.toFixed(1)} ms, p99 ${ctrmeta.p99.toFixed(1)} ms)`);
    }
    await nc.close();
    report.compare({
      measure: `CreateContainer, ${instances} instance${instances === 1 ? "" : "s"}, 3-node R3, 64 concurrent`,
      ctrmeta: median(ctrmetaRates),
      reference: "raw R3 pipelined publish (window 256)",
      referenceValue: median(rawRates),
      target: 0.7,
      direction: "higher",
      unit: "msg/s",
    });
    report.compare({
      measure: `CreateContainer, ${instances} instance${instances === 1 ? "" : "s"}, 3-node R3, 64 concurrent`,
      ctrmeta: median(ctrmetaRates),
      reference: `raw R3 command ceiling (${instances} service${instances === 1 ? "" : "s"})`,
      referenceValue: median(commandRates),
      direction: "higher",
      unit: "cmd/s",
    });
  } finally {
    for (const connection of rawConnections) await connection.close().catch(() => undefined);
    for (const client of clients) await client.close().catch(() => undefined);
    for (const host of hosts) await host.stop();
    await cluster.close();
  }
  return report;
}
