/**
 * Scenarios that read the log, run in this process one system after the other.
 * They measure rebuilding a view from many events against a raw ordered consumer
 * that keeps each subject's last message in a Map, the memory a view needs per
 * container beyond the container's own bytes, and starting from a view snapshot.
 */
import { DeliverPolicy } from "@nats-io/jetstream";
import { pino } from "pino";
import type { Container } from "../../src/domain/container.js";
import { applyObjectStore, loadDefinition, type ObjectStoreDefinition } from "../../src/nats/streams.js";
import { Projection } from "../../src/projections/projection.js";
import { Projector } from "../../src/projections/projector.js";
import { readSnapshot, writeSnapshot } from "../../src/projections/snapshot.js";
import { Instance } from "../../src/service.js";
import { appendEvents, containerHistory, containerRecord } from "../lib/log-writer.js";
import { collectGarbage, heapBytes, startLogStack, type LogStack } from "../lib/log-stack.js";
import { median, timed } from "../lib/measure.js";
import type { BenchOptions } from "../lib/options.js";
import { Report } from "../lib/report.js";
import { NAMESPACE } from "../lib/rig.js";

const quiet = pino({ level: "silent" });

/** Replay the whole log with an ordered consumer into a Map of subject to message bytes. */
async function rawReplay(stack: LogStack, last: number): Promise<Map<string, Uint8Array>> {
  const consumer = await stack.js.consumers.get(stack.layout.logStream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: 1000 });
  const latest = new Map<string, Uint8Array>();
  for await (const message of messages) {
    latest.set(message.subject, message.data);
    if (message.seq >= last) break;
  }
  await messages.close();
  return latest;
}

/** Build a view from the whole log as an instance does at start, without a snapshot. */
async function rebuildView(stack: LogStack): Promise<Projection> {
  const projection = new Projection();
  const projector = new Projector(stack.js, stack.jsm, stack.layout, projection, quiet);
  await projector.start();
  await projector.stop();
  return projection;
}

async function lastSeq(stack: LogStack): Promise<number> {
  return (await stack.jsm.streams.info(stack.layout.logStream)).state.last_seq;
}

export async function rebuild(options: BenchOptions): Promise<Report> {
  const report = new Report("rebuild");
  const events = options.events ?? (options.quick ? 50_000 : 1_000_000);
  const containers = Math.max(1, Math.min(100_000, Math.floor(events / 10)));
  const stack = await startLogStack();
  try {
    const rate = await appendEvents(stack.js, stack.layout, NAMESPACE, events, containerHistory(containers));
    console.log(`  wrote ${events} events (${containers} containers, then updates) at ${rate.toFixed(0)}/s`);
    const last = await lastSeq(stack);
    const rawRates: number[] = [];
    const viewRates: number[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const raw = await timed(() => rawReplay(stack, last));
      rawRates.push(events / (raw.ms / 1000));
      collectGarbage();
      const view = await timed(() => rebuildView(stack));
      viewRates.push(events / (view.ms / 1000));
      const count = view.value.state.namespaces.get(NAMESPACE)?.containers.size ?? 0;
      console.log(`  round ${round}: raw replay ${raw.ms.toFixed(0)} ms (${raw.value.size} subjects), view rebuild ${view.ms.toFixed(0)} ms (${count} containers)`);
      collectGarbage();
    }
    report.compare({
      measure: `Rebuild of ${events} events`,
      ctrmeta: median(viewRates),
      reference: "raw ordered-consumer replay into a Map",
      referenceValue: median(rawRates),
      target: 0.8,
      direction: "higher",
      unit: "events/s",
    });
  } finally {
    await stack.close();
  }
  return report;
}

/** UTF-8 bytes of every string in a container record plus its spec and option bytes: the record's content, before any overhead. */
export function payloadBytes(container: Container): number {
  let bytes = 0;
  const text = (value: string) => {
    bytes += Buffer.byteLength(value, "utf8");
  };
  text(container.id);
  for (const [key, value] of Object.entries(container.labels)) {
    text(key);
    text(value);
  }
  text(container.image);
  text(container.runtime.name);
  if (container.runtime.options) bytes += container.runtime.options.value.length + Buffer.byteLength(container.runtime.options.typeUrl);
  if (container.spec) bytes += container.spec.value.length + Buffer.byteLength(container.spec.typeUrl);
  text(container.snapshotter);
  text(container.snapshotKey);
  text(container.sandbox);
  text(container.createdAt);
  text(container.updatedAt);
  return bytes;
}

/** Budget of the memory a view may spend per container beyond its payload, in bytes. */
const OVERHEAD_BUDGET = 1536;

export async function memory(options: BenchOptions): Promise<Report> {
  const report = new Report("memory");
  const containers = options.containers ?? (options.quick ? 10_000 : 100_000);
  const stack = await startLogStack();
  try {
    await appendEvents(stack.js, stack.layout, NAMESPACE, containers, containerHistory(containers));
    let payload = 0;
    for (let index = 0; index < containers; index++) payload += payloadBytes(containerRecord(`c-${index}`, index));

    collectGarbage();
    const before = heapBytes();
    const view = await rebuildView(stack);
    collectGarbage();
    const after = heapBytes();
    const loaded = view.state.namespaces.get(NAMESPACE)?.containers.size ?? 0;
    if (loaded !== containers) throw new Error(`the rebuilt view contains ${loaded} containers, expected ${containers}`);
    const perContainer = (after - before) / containers;
    const overhead = perContainer - payload / containers;
    console.log(`  ${containers} containers: heap and buffers +${((after - before) / 2 ** 20).toFixed(1)} MiB, ${perContainer.toFixed(0)} bytes each, payload ${(payload / containers).toFixed(0)} bytes each`);
    report.compare({
      measure: `View memory per container beyond its payload (${containers} containers)`,
      ctrmeta: overhead,
      reference: "budget",
      referenceValue: OVERHEAD_BUDGET,
      target: 1,
      direction: "lower",
      unit: "bytes",
    });
  } finally {
    await stack.close();
  }
  return report;
}

export async function snapshotStart(options: BenchOptions): Promise<Report> {
  const report = new Report("snapshot-start");
  const containers = options.containers ?? (options.quick ? 10_000 : 100_000);
  const tail = options.quick ? 200 : 1000;
  const stack = await startLogStack();
  try {
    await appendEvents(stack.js, stack.layout, NAMESPACE, containers, containerHistory(containers));
    const store = await applyObjectStore(stack.nc, loadDefinition<ObjectStoreDefinition>("projections.json", stack.layout));
    const written = await timed(async () => writeSnapshot(store, await rebuildView(stack)));
    console.log(`  snapshot of ${containers} containers written in ${written.ms.toFixed(0)} ms`);
    const history = containerHistory(containers);
    await appendEvents(stack.js, stack.layout, NAMESPACE, tail, (index) => history(containers + index));
    collectGarbage();

    const restoreMs: number[] = [];
    const tailMs: number[] = [];
    const fromSnapshotMs: number[] = [];
    const fromLogMs: number[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      const projection = new Projection();
      const restored = await timed(async () => projection.restore((await readSnapshot(store))!));
      const projector = new Projector(stack.js, stack.jsm, stack.layout, projection, quiet);
      const replayed = await timed(() => projector.start());
      await projector.stop();
      restoreMs.push(restored.ms);
      tailMs.push(replayed.ms);
      collectGarbage();

      const start = async (useSnapshot: boolean) => {
        const started = await timed(() => Instance.start({ servers: stack.nats.url, logger: quiet, gc: false, notify: false, snapshotEvery: 0, useSnapshot }));
        await started.value.close();
        collectGarbage();
        return started.ms;
      };
      fromSnapshotMs.push(await start(true));
      fromLogMs.push(await start(false));
      console.log(
        `  round ${round}: snapshot read and restore ${restored.ms.toFixed(0)} ms, tail of ${tail} events ${replayed.ms.toFixed(0)} ms; ` +
          `Instance.start from the snapshot ${fromSnapshotMs.at(-1)!.toFixed(0)} ms, from the log ${fromLogMs.at(-1)!.toFixed(0)} ms`,
      );
    }
    report.compare({
      measure: `Restore a snapshot of ${containers} containers (tail of ${tail} events excluded: ${median(tailMs).toFixed(0)} ms)`,
      ctrmeta: median(restoreMs),
      reference: "budget",
      referenceValue: 1000,
      target: 1,
      direction: "lower",
      unit: "ms",
    });
    report.compare({
      measure: `Instance.start with ${containers} containers and a ${tail}-event tail`,
      ctrmeta: median(fromSnapshotMs),
      reference: "Instance.start rebuilding from the log",
      referenceValue: median(fromLogMs),
      direction: "lower",
      unit: "ms",
    });
  } finally {
    await stack.close();
  }
  return report;
}
