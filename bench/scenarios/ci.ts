/**
 * The CI check: short runs of the scenarios, failing only when a ratio falls
 * below its floor. Floors are generous because CI machines are shared and small;
 * absolute times are never checked. Where ctrmeta misses even half of a target
 * today, the floor sits just under what docs/benchmarks.md records, so a
 * regression still fails. A scenario with a ratio past its floor runs once more,
 * and only the second run counts: one round of a short run can land on a burst of
 * load from the test file that runs beside it.
 */
import type { BenchOptions } from "../lib/options.js";
import { printTable, type Report, type Row } from "../lib/report.js";
import { createConcurrent, createSerial, getSerial } from "./commands.js";
import { gcImpact } from "./gc.js";
import { listFiltered } from "./list.js";
import { memory, rebuild, snapshotStart } from "./replay.js";

/** Floor of each checked row, by scenario and the start of its measure. */
export const FLOORS: Array<{ scenario: string; measure: string; reference: string; floor: number }> = [
  { scenario: "create-concurrent", measure: "CreateContainer, 64 concurrent", reference: "containerd 1.6", floor: 0.8 },
  { scenario: "create-concurrent", measure: "CreateContainer, 64 concurrent", reference: "raw command ceiling", floor: 0.15 },
  { scenario: "create-serial", measure: "CreateContainer serial, p50", reference: "raw request/reply + publish with ack", floor: 3 },
  { scenario: "get", measure: "Get serial, p50", reference: "raw core request/reply", floor: 2.4 },
  { scenario: "list", measure: "List of", reference: "containerd 1.6", floor: 0.4 },
  { scenario: "rebuild", measure: "Rebuild of", reference: "raw ordered-consumer replay into a Map", floor: 0.2 },
  { scenario: "memory", measure: "View memory per container", reference: "budget", floor: 3 },
  { scenario: "snapshot-start", measure: "Restore a snapshot", reference: "budget", floor: 2 },
  { scenario: "gc", measure: "CreateContainer p99 during a sweep", reference: "p99 without a collection", floor: 6 },
  { scenario: "gc", measure: "DeleteImage with sync, p50", reference: "plain DeleteImage", floor: 8 },
];

export interface FloorCheck {
  row: Row;
  floor: number;
  passed: boolean;
}

/** Compare each row that has a floor against it; a "lower" row passes at or below its floor. */
export function checkFloors(reports: Report[]): FloorCheck[] {
  const checks: FloorCheck[] = [];
  for (const row of reports.flatMap((report) => report.rows)) {
    const floor = FLOORS.find((entry) => entry.scenario === row.scenario && (row.measure === entry.measure || row.measure.startsWith(`${entry.measure} `)) && entry.reference === row.reference);
    if (!floor) continue;
    const passed = row.direction === "higher" ? row.ratio >= floor.floor : row.ratio <= floor.floor;
    checks.push({ row, floor: floor.floor, passed });
  }
  return checks;
}

/** Run the short scenarios; returns the reports, and prints the table and each floor check. */
export type Scenario = (options: BenchOptions) => Promise<Report>;

/** The scenarios CI runs: every one but cluster, which needs more than a small machine. */
export const CI_SCENARIOS: readonly Scenario[] = [createConcurrent, createSerial, getSerial, listFiltered, rebuild, memory, snapshotStart, gcImpact];

export async function runCiScenarios(scenarios: readonly Scenario[] = CI_SCENARIOS): Promise<{ reports: Report[]; checks: FloorCheck[] }> {
  const options: BenchOptions = { rounds: 1, quick: true };
  const reports: Report[] = [];
  for (const scenario of scenarios) reports.push(await scenario(options));

  for (const [index, report] of reports.entries()) {
    const failed = checkFloors([report]).filter((check) => !check.passed);
    if (failed.length === 0) continue;
    const ratios = failed.map((check) => `${check.row.measure}: ${check.row.ratio.toFixed(2)}`).join("; ");
    console.log(`${report.scenario}: past its floor in the first run (${ratios}); running it once more`);
    reports[index] = await scenarios[index]!(options);
  }
  printTable(reports);
  const checks = checkFloors(reports);
  for (const check of checks) {
    const sign = check.row.direction === "higher" ? "≥" : "≤";
    console.log(`${check.passed ? "ok  " : "FAIL"} ${check.row.scenario}: ${check.row.measure} vs ${check.row.reference}: ratio ${check.row.ratio.toFixed(2)}, floor ${sign} ${check.floor}`);
  }
  return { reports, checks };
}

/** `npm run bench -- ci`: true when every ratio is at or past its floor. */
export async function runCi(): Promise<boolean> {
  const { checks } = await runCiScenarios();
  return checks.every((check) => check.passed);
}
