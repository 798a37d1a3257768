/**
 * Small measurements behind the explanations in docs/benchmarks.md:
 * `node dist/bench/probes.js [NAME...]` runs the named probes, or all of them.
 *
 *   map-eviction   cost per insertion of keeping a Map bounded, oldest first
 *   object-layout  heap bytes of a seven-label map, by how it is made
 *   spec-check     the JSON check of a stored spec on reads, and the spec's size
 *   list-filter    sorting and filtering 10,000 containers in a view
 *   queue-spread   which of two instances on a 3-node cluster serves a client
 *   profile FILE   the functions with the most CPU time in a .cpuprofile
 *                  (BENCH_CPU_PROF=DIR writes them for the scenarios' processes)
 */
import { readFileSync } from "node:fs";
import { anyJsonValue } from "../src/domain/any.js";
import { containerFields } from "../src/domain/container.js";
import { emptyMap } from "../src/domain/labels.js";
import { sortBytes } from "../src/domain/order.js";
import { ENVELOPE_VERSION, encodeEnvelope } from "../src/events/codec.js";
import { EVENT_VERSIONS } from "../src/events/upcast.js";
import { parseStoreFilters } from "../src/filters/filters.js";
import { Client } from "../src/client/client.js";
import { Projection } from "../src/projections/projection.js";
import { startCluster } from "../test/helpers/cluster.js";
import { startInstance } from "../test/helpers/nats.js";
import { groupFilter, SPEC_BYTES } from "./lib/fixture.js";
import { collectGarbage, heapBytes } from "./lib/log-stack.js";
import { containerRecord } from "./lib/log-writer.js";

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
  // A copy, so that the check cannot use what anyFromJson remembers.
  const stored = new Uint8Array(spec);
  const calls = 20_000;
  for (let index = 0; index < 2000; index++) anyJsonValue(stored);
  const started = performance.now();
  for (let index = 0; index < calls; index++) anyJsonValue(stored);
  const micros = ((performance.now() - started) * 1000) / calls;
  console.log(`spec-check: the fixture spec is ${SPEC_BYTES} bytes of JSON holding ${values} values`);
  console.log(`  checking that stored bytes are compact JSON and parsing them: ${micros.toFixed(1)} µs per read`);
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
  "list-filter": listFilter,
  "queue-spread": queueSpread,
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
