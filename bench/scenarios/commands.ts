/**
 * CreateContainer under 64 concurrent requests and one at a time, and Get one at a
 * time: ctrmeta against the raw command ceiling (request, service, JetStream
 * publish with expected subject sequence, reply), the raw core request/reply,
 * and containerd 1.6 through its gRPC API. Each round runs the systems back to
 * back; the median round is reported.
 */
import { randomUUID } from "node:crypto";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { CONTENT_TYPE_HEADER, JSON_TYPE } from "../../src/api/codec.js";
import { MIN_REVISION_HEADER, NAMESPACE_HEADER, REQUEST_ID_HEADER, REVISION_HEADER } from "../../src/api/service.js";
import { containerBody, type ContainerBody } from "../lib/fixture.js";
import { median, runLoad, type LoadResult } from "../lib/measure.js";
import type { BenchOptions } from "../lib/options.js";
import { Report } from "../lib/report.js";
import { clientOverrides, NAMESPACE, Rig } from "../lib/rig.js";
import { rawEcho } from "../lib/raw.js";

const CONCURRENCY = 64;

type Create = (index: number, body: ContainerBody) => Promise<unknown>;

/** Run `count` creations of fresh ids `<prefix>-<i>` with `concurrency` in flight. */
function createLoad(create: Create, prefix: string, count: number, concurrency: number): Promise<LoadResult> {
  return runLoad({
    concurrency,
    count,
    warmup: Math.min(200, Math.floor(count / 10)),
    operation: (index) => create(index, containerBody(`${prefix}-${index}`, index)),
  });
}

interface Series {
  raw: LoadResult[];
  ctrmeta: LoadResult[];
  containerd: LoadResult[];
}

async function compareCreates(rig: Rig, options: BenchOptions, concurrency: number, count: number, tag: string): Promise<Series> {
  const series: Series = { raw: [], ctrmeta: [], containerd: [] };
  const metered = async (name: string, load: () => Promise<LoadResult>): Promise<LoadResult> => {
    const meter = rig.cpu();
    meter.start();
    const result = await load();
    console.log(`    ${name}: ${result.rate.toFixed(0)}/s; CPU (cores): ${meter.stop()}`);
    return result;
  };
  // BENCH_SYSTEMS=ctrmeta (a comma-separated list) loads only those systems, e.g. to profile one of them.
  const systems = new Set((process.env.BENCH_SYSTEMS ?? "raw,ctrmeta,containerd").split(","));
  // One short unmeasured run per system first, so that no system is measured while its code is still being compiled.
  const warm = Math.min(count, 300);
  if (systems.has("raw")) await createLoad((i, body) => rig.rawCreate(i, body), `${tag}-raw-warm`, warm, concurrency);
  if (systems.has("ctrmeta")) await createLoad((i, body) => rig.ctrmetaCreate(i, body), `${tag}-ctrmeta-warm`, warm, concurrency);
  if (rig.containerd && systems.has("containerd")) await createLoad((i, body) => rig.containerdCreate(i, body), `${tag}-containerd-warm`, warm, concurrency);
  for (let round = 1; round <= options.rounds; round++) {
    if (systems.has("raw")) series.raw.push(await metered("raw", () => createLoad((i, body) => rig.rawCreate(i, body), `${tag}-raw-${round}`, count, concurrency)));
    if (systems.has("ctrmeta")) {
      series.ctrmeta.push(await metered("ctrmeta", () => createLoad((i, body) => rig.ctrmetaCreate(i, body), `${tag}-ctrmeta-${round}`, count, concurrency)));
    }
    if (rig.containerd && systems.has("containerd")) {
      series.containerd.push(await metered("containerd", () => createLoad((i, body) => rig.containerdCreate(i, body), `${tag}-containerd-${round}`, count, concurrency)));
    }
    const last = (list: LoadResult[]) => (list.length ? `${list[list.length - 1]!.rate.toFixed(0)}/s p50 ${list[list.length - 1]!.p50.toFixed(2)} ms` : "-");
    console.log(`  round ${round}: raw ${last(series.raw)}, ctrmeta ${last(series.ctrmeta)}, containerd ${last(series.containerd)}`);
  }
  return series;
}

const rates = (list: LoadResult[]) => median(list.map((result) => result.rate));
const p50s = (list: LoadResult[]) => median(list.map((result) => result.p50));
const p99s = (list: LoadResult[]) => median(list.map((result) => result.p99));

export async function createConcurrent(options: BenchOptions): Promise<Report> {
  const report = new Report("create-concurrent");
  const count = options.count ?? (options.quick ? 800 : 3000);
  const rig = await Rig.start();
  try {
    const series = await compareCreates(rig, options, CONCURRENCY, count, "cc");
    if (series.containerd.length) {
      report.compare({ measure: "CreateContainer, 64 concurrent", ctrmeta: rates(series.ctrmeta), reference: "containerd 1.6", referenceValue: rates(series.containerd), target: 3, direction: "higher", unit: "cmd/s" });
    } else {
      report.skip(`containerd comparison: ${rig.containerdSkipped}`);
    }
    report.compare({ measure: "CreateContainer, 64 concurrent", ctrmeta: rates(series.ctrmeta), reference: "raw command ceiling", referenceValue: rates(series.raw), target: 0.8, direction: "higher", unit: "cmd/s" });
    report.compare({ measure: "CreateContainer, 64 concurrent, p50", ctrmeta: p50s(series.ctrmeta), reference: "raw command ceiling", referenceValue: p50s(series.raw), direction: "lower", unit: "ms" });
    report.compare({ measure: "CreateContainer, 64 concurrent, p99", ctrmeta: p99s(series.ctrmeta), reference: "raw command ceiling", referenceValue: p99s(series.raw), direction: "lower", unit: "ms" });
    if (series.containerd.length) {
      report.compare({ measure: "CreateContainer, 64 concurrent, p99", ctrmeta: p99s(series.ctrmeta), reference: "containerd 1.6", referenceValue: p99s(series.containerd), direction: "lower", unit: "ms" });
    }
  } finally {
    await rig.stop();
  }
  return report;
}

export async function createSerial(options: BenchOptions): Promise<Report> {
  const report = new Report("create-serial");
  const count = options.count ?? (options.quick ? 300 : 1000);
  const rig = await Rig.start();
  try {
    const series = await compareCreates(rig, options, 1, count, "cs");
    report.compare({ measure: "CreateContainer serial, p50", ctrmeta: p50s(series.ctrmeta), reference: "raw request/reply + publish with ack", referenceValue: p50s(series.raw), target: 1.5, direction: "lower", unit: "ms" });
    report.compare({ measure: "CreateContainer serial, p99", ctrmeta: p99s(series.ctrmeta), reference: "raw request/reply + publish with ack", referenceValue: p99s(series.raw), direction: "lower", unit: "ms" });
    if (series.containerd.length) {
      report.compare({ measure: "CreateContainer serial, p50", ctrmeta: p50s(series.ctrmeta), reference: "containerd 1.6", referenceValue: p50s(series.containerd), direction: "lower", unit: "ms" });
    } else {
      report.skip(`containerd comparison: ${rig.containerdSkipped}`);
    }
  } finally {
    await rig.stop();
  }
  return report;
}

/** Get of one container, one request at a time. */
export async function getSerial(options: BenchOptions): Promise<Report> {
  const report = new Report("get");
  const count = options.count ?? (options.quick ? 1000 : 5000);
  const id = "get-target";
  const rig = await Rig.start();
  try {
    await rig.ctrmetaCreate(0, containerBody(id));
    // The raw echo replies with the bytes of ctrmeta's Get reply, so both move the same payload.
    const record = await rig.client(0).containers.get(id);
    await rig.raw.setEchoReply(new TextEncoder().encode(JSON.stringify({ container: record })));
    if (rig.containerd) await rig.containerdCreate(0, containerBody(id));
    const series: Series = { raw: [], ctrmeta: [], containerd: [] };
    // The same request as the client's Get, with the same headers (the minimum
    // revision too, unless the clients run without read-your-writes), but the reply
    // is not decoded. The difference to the Get row is the client's own work on it.
    const undecoded: LoadResult[] = [];
    const client = rig.client(0);
    const getSubject = client.layout.apiSubject(NAMESPACE, "containers", "get");
    const getBody = new TextEncoder().encode(JSON.stringify({ id }));
    let minRevision: string | undefined;
    const undecodedGet = async () => {
      const headers = natsHeaders();
      headers.set(CONTENT_TYPE_HEADER, JSON_TYPE);
      headers.set(REQUEST_ID_HEADER, randomUUID());
      headers.set(NAMESPACE_HEADER, NAMESPACE);
      if (minRevision !== undefined) headers.set(MIN_REVISION_HEADER, minRevision);
      return rig.nc(0).request(getSubject, getBody, { headers, timeout: 30_000 });
    };
    if (clientOverrides().readYourWrites !== false) {
      minRevision = (await undecodedGet()).headers?.get(REVISION_HEADER) || undefined;
      if (minRevision === undefined) throw new Error("the Get reply carries no revision header");
    }
    const warmup = Math.floor(count / 10);
    for (let round = 1; round <= options.rounds; round++) {
      series.raw.push(await runLoad({ concurrency: 1, count, warmup, operation: () => rawEcho(rig.nc(0), { id }) }));
      series.ctrmeta.push(await runLoad({ concurrency: 1, count, warmup, operation: () => client.containers.get(id) }));
      undecoded.push(await runLoad({ concurrency: 1, count, warmup, operation: undecodedGet }));
      if (rig.containerd) {
        const grpc = rig.grpcClients[0]!;
        series.containerd.push(await runLoad({ concurrency: 1, count, warmup, operation: () => grpc.get(id) }));
      }
      console.log(
        `  round ${round}: raw p50 ${series.raw.at(-1)!.p50.toFixed(3)} ms, ctrmeta p50 ${series.ctrmeta.at(-1)!.p50.toFixed(3)} ms ` +
          `(reply not decoded ${undecoded.at(-1)!.p50.toFixed(3)} ms), containerd p50 ${series.containerd.at(-1)?.p50.toFixed(3) ?? "-"} ms`,
      );
    }
    report.compare({ measure: "Get serial, p50", ctrmeta: p50s(series.ctrmeta), reference: "raw core request/reply", referenceValue: p50s(series.raw), target: 1.2, direction: "lower", unit: "ms" });
    report.compare({ measure: "Get serial, p50, reply not decoded by the client", ctrmeta: p50s(undecoded), reference: "raw core request/reply", referenceValue: p50s(series.raw), direction: "lower", unit: "ms" });
    report.compare({ measure: "Get serial, p99", ctrmeta: p99s(series.ctrmeta), reference: "raw core request/reply", referenceValue: p99s(series.raw), direction: "lower", unit: "ms" });
    if (series.containerd.length) {
      report.compare({ measure: "Get serial, p50", ctrmeta: p50s(series.ctrmeta), reference: "containerd 1.6", referenceValue: p50s(series.containerd), direction: "lower", unit: "ms" });
    } else {
      report.skip(`containerd comparison: ${rig.containerdSkipped}`);
    }
  } finally {
    await rig.stop();
  }
  return report;
}
