/**
 * List with a label filter over a namespace of many containers. ctrmeta's chunked
 * list runs against containerd's ListStream, which containerd's own client uses,
 * with the same records and a filter that matches a tenth of them.
 */
import { containerBody, groupFilter } from "../lib/fixture.js";
import { median, runLoad, timed } from "../lib/measure.js";
import type { BenchOptions } from "../lib/options.js";
import { Report } from "../lib/report.js";
import { NAMESPACE, Rig } from "../lib/rig.js";

export async function listFiltered(options: BenchOptions): Promise<Report> {
  const report = new Report("list");
  const containers = options.containers ?? (options.quick ? 2000 : 10_000);
  const lists = options.count ?? (options.quick ? 3 : 5);
  const rig = await Rig.start();
  try {
    if (!rig.containerd) report.skip(`containerd comparison: ${rig.containerdSkipped}`);
    const load = (create: (index: number) => Promise<unknown>) => runLoad({ concurrency: 64, count: containers, operation: create });
    const loaded = await load((index) => rig.ctrmetaCreate(index, containerBody(`l-${index}`, index)));
    console.log(`  loaded ${containers} containers into ctrmeta at ${loaded.rate.toFixed(0)}/s`);
    if (rig.containerd) {
      const loadedContainerd = await load((index) => rig.containerdCreate(index, containerBody(`l-${index}`, index)));
      console.log(`  loaded ${containers} containers into containerd at ${loadedContainerd.rate.toFixed(0)}/s`);
    }
    const grpc = rig.containerd?.containers(NAMESPACE);
    const ctrmetaMs: number[] = [];
    const containerdMs: number[] = [];
    for (let round = 0; round < lists; round++) {
      const filter = groupFilter(round % 10);
      const ctrmeta = await timed(() => rig.client(0).containers.list([filter]));
      ctrmetaMs.push(ctrmeta.ms);
      let line = `  list ${round + 1} (${filter}): ctrmeta ${ctrmeta.value.length} records in ${ctrmeta.ms.toFixed(1)} ms`;
      if (grpc) {
        const containerd = await timed(() => grpc.listStream([filter]));
        containerdMs.push(containerd.ms);
        line += `, containerd ${containerd.value.length} records in ${containerd.ms.toFixed(1)} ms`;
      }
      console.log(line);
    }
    grpc?.close();
    if (containerdMs.length) {
      report.compare({
        measure: `List of ${containers} with a label filter (1/10 match), lists/s`,
        ctrmeta: 1000 / median(ctrmetaMs),
        reference: "containerd 1.6",
        referenceValue: 1000 / median(containerdMs),
        target: 10,
        direction: "higher",
        unit: "lists/s",
      });
    }
  } finally {
    await rig.stop();
  }
  return report;
}
