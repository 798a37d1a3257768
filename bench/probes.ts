/**
 * Small measurements behind the explanations in docs/benchmarks.md:
 * `node dist/bench/probes.js [NAME...]` runs the named probes, or all of them.
 *
 *   map-eviction   cost per insertion of keeping a Map bounded, oldest first
 *   object-layout  heap bytes of a seven-label map, by how it is made
 *   spec-check     the JSON check of a stored spec on reads, and the spec's size
 *   sort-keys      byte-order sorting of 200,000 digests, with and without a comparator
 *   scheduler-wake one tick of the GC scheduler, as a pure transition and as an actor
 *   gc-apply       applying a collection event of 1000 removals after writes since its view
 *   list-filter    sorting and filtering 10,000 containers in a view
 *   queue-spread   which of two instances on a 3-node cluster serves a client
 *   snapshot-read  reading a view snapshot of 100,000 containers: receiving its
 *                  chunks, decoding them, and both as the instance does
 *   profile FILE   the functions with the most CPU time in a .cpuprofile
 *                  (BENCH_CPU_PROF=DIR writes them for the scenarios' processes)
 */
import { readFileSync } from "node:fs";
import { createActor, initialTransition, transition } from "xstate";
import { anyJsonValue, isCompactJson } from "../src/domain/any.js";
import { containerFields } from "../src/domain/container.js";
import { emptyMap } from "../src/domain/labels.js";
import { compareBytes, sortBytes } from "../src/domain/order.js";
import { emptyState } from "../src/domain/state.js";
import { ENVELOPE_VERSION, encodeEnvelope } from "../src/events/codec.js";
import { EVENT_VERSIONS } from "../src/events/upcast.js";
import { parseStoreFilters } from "../src/filters/filters.js";
import { Client } from "../src/client/client.js";
import type { GcRemoval } from "../src/gc/events.js";
import { gcScheduler } from "../src/gc/scheduler.js";
import { evolve } from "../src/projections/evolve.js";
import { Projection } from "../src/projections/projection.js";
import { Projector } from "../src/projections/projector.js";
import { decodeSnapshot, readSnapshot, SNAPSHOT_OBJECT, writeSnapshot } from "../src/projections/snapshot.js";
import { applyObjectStore, loadDefinition, type ObjectStoreDefinition } from "../src/nats/streams.js";
import { pino } from "pino";
import { startCluster } from "../test/helpers/cluster.js";
import { startInstance } from "../test/helpers/nats.js";
import { groupFilter, SPEC_BYTES } from "./lib/fixture.js";
import { collectGarbage, heapBytes, startLogStack } from "./lib/log-stack.js";
import { appendEvents, containerHistory, containerRecord } from "./lib/log-writer.js";

function mapEviction(): void {
  const bound = 65_536;
  const insertions = 400_000;
  const oneByOne = new Map<number, number>();
  let started = performance.now();
  for (let index = 1; index <= insertions; index++) {
    oneByOne.set(index, index);
    if (oneByOne.size > bound) oneByOne.delete(oneByOne.keys().next().value!);
  }
  const oneByOneMs = performance.now() - started;
  const batched = new Map<number, number>();
  started = performance.now();
  for (let index = 1; index <= insertions; index++) {
    batched.set(index, index);
    if (batched.size > bound + 4096) {
      let excess = batched.size - bound;
      for (const key of batched.keys()) {
        if (excess-- <= 0) break;
        batched.delete(key);
      }
    }
  }
  const batchedMs = performance.now() - started;
  console.log(`map-eviction: ${insertions} insertions into a Map bounded at ${bound}`);
  console.log(`  deleting the oldest entry each time: ${((oneByOneMs * 1000) / insertions).toFixed(2)} µs per insertion`);
  console.log(`  deleting the oldest 4096 at a time:  ${((batchedMs * 1000) / insertions).toFixed(2)} µs per insertion`);
}

function objectLayout(): void {
  const count = 20_000;
  const keys = Array.from({ length: 7 }, (_, index) => `containerd.io/label-${index}`);
  const values = Array.from({ length: 7 }, (_, index) => `value-${index}`);
  const measure = (name: string, make: () => Record<string, string>) => {
    collectGarbage();
    const before = heapBytes();
    const maps: Array<Record<string, string>> = [];
    for (let index = 0; index < count; index++) {
      const map = make();
      for (let label = 0; label < keys.length; label++) map[keys[label]!] = values[label]!;
      maps.push(map);
    }
    collectGarbage();
    // Each kept object also costs its 8-byte slot in the array.
    console.log(`  ${name}: ${((heapBytes() - before) / count - 8).toFixed(0)} bytes`);
    return maps.length;
  };
  console.log("object-layout: heap bytes of one map of seven labels (keys and values shared)");
  measure("Object.create(null)", () => Object.create(null) as Record<string, string>);
  measure("emptyMap() (the view's maps)", () => emptyMap());
}

function specCheck(): void {
  const spec = containerRecord("probe", 0).spec!.value;
  const text = new TextDecoder().decode(spec);
  let values = 0;
  const count = (value: unknown): void => {
    values++;
    if (value !== null && typeof value === "object") for (const inner of Object.values(value)) count(inner);
  };
  count(JSON.parse(text));
  // Copies, one per read, so that the check can use neither what anyFromJson
  // remembers nor the verdict remembered for bytes checked before.
  const calls = 20_000;
  const copies = Array.from({ length: calls + 2000 }, () => new Uint8Array(spec));
  for (let index = 0; index < 2000; index++) anyJsonValue(copies[calls + index]!);
  let started = performance.now();
  for (let index = 0; index < calls; index++) anyJsonValue(copies[index]!);
  const firstMicros = ((performance.now() - started) * 1000) / calls;
  started = performance.now();
  for (let index = 0; index < calls; index++) isCompactJson(copies[index]!);
  const againMicros = ((performance.now() - started) * 1000) / calls;
  console.log(`spec-check: the fixture spec is ${SPEC_BYTES} bytes of JSON holding ${values} values`);
  console.log(`  checking that stored bytes are compact JSON and parsing them: ${firstMicros.toFixed(1)} µs per read`);
  console.log(`  the same check on bytes checked before: ${againMicros.toFixed(2)} µs per read`);
}

function sortKeys(): void {
  const count = 200_000;
  const inOrder = Array.from({ length: count }, (_, index) => `sha256:${index.toString(16).padStart(64, "0")}`);
  const shuffled = Array.from({ length: count }, (_, index) => `sha256:${((index * 2654435761) >>> 0).toString(16).padStart(64, "0")}`);
  console.log(`sort-keys: ${count} digests in byte order`);
  for (const [name, keys] of [["in insertion order", inOrder], ["shuffled", shuffled]] as const) {
    let started = performance.now();
    [...keys].sort(compareBytes);
    const comparatorMs = performance.now() - started;
    started = performance.now();
    sortBytes([...keys]);
    const sortBytesMs = performance.now() - started;
    console.log(`  ${name}: sort(compareBytes) ${comparatorMs.toFixed(0)} ms, sortBytes ${sortBytesMs.toFixed(0)} ms`);
  }
}

function schedulerWake(): void {
  const ticks = 20_000;
  let [snapshot] = initialTransition(gcScheduler, { config: {}, now: Date.now() });
  let started = performance.now();
  for (let index = 0; index < ticks; index++) [snapshot] = transition(gcScheduler, snapshot, { type: "tick", now: Date.now() });
  const transitionMicros = ((performance.now() - started) * 1000) / ticks;
  const actor = createActor(gcScheduler, { input: { config: {}, now: Date.now() } });
  actor.start();
  started = performance.now();
  for (let index = 0; index < ticks; index++) actor.send({ type: "tick", now: Date.now() });
  const actorMicros = ((performance.now() - started) * 1000) / ticks;
  actor.stop();
  console.log(`scheduler-wake: ${ticks} ticks of the GC scheduler`);
  console.log(`  xstate transition(): ${transitionMicros.toFixed(1)} µs per tick; actor.send(): ${actorMicros.toFixed(1)} µs per tick`);
}

function gcApply(): void {
  const blobs = 200_000;
  const written = 1400;
  const state = emptyState();
  const stamp = "2026-01-01T00:00:00.000000000Z";
  const digest = (index: number) => `sha256:${index.toString(16).padStart(64, "0")}`;
  let seq = 0;
  for (let index = 0; index < blobs; index++) {
    evolve(state, "bench", { type: "content.committed", info: { digest: digest(index), size: 1, labels: {}, createdAt: stamp, updatedAt: stamp } }, ++seq);
  }
  const viewSeq = seq;
  for (let index = 0; index < written; index++) evolve(state, "bench", { type: "container.created", container: containerRecord(`written-${index}`, index) }, ++seq);
  const times: number[] = [];
  for (let event = 0; event < 10; event++) {
    const removals: GcRemoval[] = [];
    for (let index = event * 1000; index < (event + 1) * 1000; index++) removals.push({ namespace: "bench", kind: "content", key: digest(index) });
    const started = performance.now();
    evolve(state, "", { type: "gc.collected", startedAt: stamp, viewSeq, removals }, ++seq);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  console.log(`gc-apply: events of 1000 removals from ${blobs} blobs, ${written} containers written since the view`);
  console.log(`  per event: fastest ${times[0]!.toFixed(2)} ms, median ${times[5]!.toFixed(2)} ms, slowest ${times[9]!.toFixed(2)} ms`);
}

function listFilter(): void {
  const projection = new Projection();
  const containers = 10_000;
  for (let index = 0; index < containers; index++) {
    const record = containerRecord(`l-${index}`, index);
    const data = encodeEnvelope({ v: ENVELOPE_VERSION, ev: EVENT_VERSIONS["container.created"], ns: "bench", time: record.createdAt, req: `r-${index}`, event: { type: "container.created", container: record } });
    projection.apply(index + 1, `probe.${index}`, data);
  }
  const records = projection.state.namespaces.get("bench")!.containers;
  console.log(`list-filter: sort and filter ${containers} containers in a view (a tenth match)`);
  for (let round = 0; round < 5; round++) {
    const started = performance.now();
    const filter = parseStoreFilters([groupFilter(round)]);
    let matched = 0;
    for (const id of sortBytes([...records.keys()])) if (filter.match(containerFields(records.get(id)!))) matched++;
    console.log(`  round ${round + 1}: ${matched} matched in ${(performance.now() - started).toFixed(2)} ms`);
  }
}

async function queueSpread(): Promise<void> {
  const cluster = await startCluster();
  try {
    const first = await startInstance(cluster.urls[0]!, { name: "first", replicas: 3 });
    const second = await startInstance(cluster.urls[2]!, { name: "second", replicas: 3, notify: false });
    const client = await Client.connect({ servers: cluster.urls[0]! });
    try {
      const answered = new Map<string, number>();
      for (let index = 0; index < 200; index++) {
        const { body } = await client.call("status", "instance", {});
        const name = String((body.instance as { name?: string } | undefined)?.name ?? "?");
        answered.set(name, (answered.get(name) ?? 0) + 1);
      }
      console.log("queue-spread: 200 requests from a client on node 1; instance `first` is on node 1, `second` on node 3");
      for (const [name, count] of answered) console.log(`  ${name}: ${count}`);
    } finally {
      await client.close();
      await second.close();
      await first.close();
    }
  } finally {
    await cluster.close();
  }
}

async function snapshotRead(): Promise<void> {
  const containers = 100_000;
  const stack = await startLogStack();
  try {
    await appendEvents(stack.js, stack.layout, "bench", containers, containerHistory(containers));
    const store = await applyObjectStore(stack.nc, loadDefinition<ObjectStoreDefinition>("projections.json", stack.layout));
    const projection = new Projection();
    const projector = new Projector(stack.js, stack.jsm, stack.layout, projection, pino({ level: "silent" }));
    await projector.start();
    await projector.stop();
    await writeSnapshot(store, projection);
    console.log(`snapshot-read: a view snapshot of ${containers} containers, three rounds`);
    for (let round = 1; round <= 3; round++) {
      collectGarbage();
      let started = performance.now();
      const chunks: Uint8Array[] = [];
      for await (const chunk of (await store.get(SNAPSHOT_OBJECT))!.data) chunks.push(chunk);
      const receiveMs = performance.now() - started;
      const bytes = Buffer.concat(chunks);
      chunks.length = 0;
      started = performance.now();
      decodeSnapshot(bytes);
      const decodeMs = performance.now() - started;
      collectGarbage();
      started = performance.now();
      await readSnapshot(store);
      const readMs = performance.now() - started;
      console.log(
        `  round ${round}: ${(bytes.length / 1e6).toFixed(0)} MB received in ${receiveMs.toFixed(0)} ms, decoded in ${decodeMs.toFixed(0)} ms; ` +
          `read while decoding (readSnapshot) ${readMs.toFixed(0)} ms`,
      );
    }
  } finally {
    await stack.close();
  }
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

function profileTop(file: string): void {
  const profile = JSON.parse(readFileSync(file, "utf8")) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, index) => {
    const node = byId.get(id)!;
    const micros = profile.timeDeltas[index] ?? 0;
    const name = `${node.callFrame.functionName || "(anonymous)"} ${node.callFrame.url.split("/").slice(-2).join("/")}:${node.callFrame.lineNumber}`;
    self.set(name, (self.get(name) ?? 0) + micros);
    if (node.callFrame.functionName !== "(idle)") busy += micros;
  });
  console.log(`profile: ${file}, ${(busy / 1000).toFixed(0)} ms busy; self time as a share of busy time`);
  for (const [name, micros] of [...self].filter(([name]) => !name.startsWith("(idle)")).sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    console.log(`  ${((100 * micros) / busy).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${name}`);
  }
}

const PROBES: Record<string, () => void | Promise<void>> = {
  "map-eviction": mapEviction,
  "object-layout": objectLayout,
  "spec-check": specCheck,
  "sort-keys": sortKeys,
  "scheduler-wake": schedulerWake,
  "gc-apply": gcApply,
  "list-filter": listFilter,
  "queue-spread": queueSpread,
  "snapshot-read": snapshotRead,
};

const args = process.argv.slice(2);
if (args[0] === "profile") {
  if (!args[1]) throw new Error("usage: probes.js profile FILE.cpuprofile");
  profileTop(args[1]);
} else {
  const names = args.length > 0 ? args : Object.keys(PROBES);
  for (const name of names) {
    const probe = PROBES[name];
    if (!probe) throw new Error(`unknown probe ${JSON.stringify(name)}: expected one of ${Object.keys(PROBES).join(", ")} or profile FILE`);
    await probe();
  }
}
