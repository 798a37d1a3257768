/** Every scenario by its command-line name. */
import type { BenchOptions } from "../lib/options.js";
import type { Report } from "../lib/report.js";
import { createConcurrent, createSerial, getSerial } from "./commands.js";
import { clusterR3 } from "./cluster.js";
import { gcImpact } from "./gc.js";
import { listFiltered } from "./list.js";
import { memory, rebuild, snapshotStart } from "./replay.js";

export const SCENARIOS: Record<string, (options: BenchOptions) => Promise<Report>> = {
  "create-concurrent": createConcurrent,
  "create-serial": createSerial,
  get: getSerial,
  list: listFiltered,
  rebuild,
  "snapshot-start": snapshotStart,
  memory,
  gc: gcImpact,
  cluster: clusterR3,
};
