/**
 * Benchmark runner: `node dist/bench/run.js SCENARIO [options]`. Every scenario
 * measures ctrmeta and its references in the same run and prints their ratios.
 * `all` runs every scenario. `ci` runs short versions and fails when a ratio falls
 * below its floor (bench/scenarios/ci.ts).
 */
import { Command, InvalidArgumentError } from "commander";
import type { BenchOptions } from "./lib/options.js";
import { printTable, writeJson, type Report } from "./lib/report.js";
import { SCENARIOS } from "./scenarios/index.js";
import { runCi } from "./scenarios/ci.js";

function positiveInteger(text: string): number {
  const value = Number(text.replaceAll("_", ""));
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`expected a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

// SIGINT and SIGTERM end the run through process.exit, whose handlers stop the
// nats-server, containerd and worker processes the scenarios started.
process.once("SIGINT", () => process.exit(130));
process.once("SIGTERM", () => process.exit(143));

const program = new Command()
  .name("bench")
  .argument("<scenario>", `one of: ${[...Object.keys(SCENARIOS), "all", "ci"].join(", ")}`)
  .option("--rounds <n>", "rounds of each comparison; the median is reported", positiveInteger, 3)
  .option("--count <n>", "operations per measured run (each scenario has its default)", positiveInteger)
  .option("--events <n>", "events in the log of the rebuild scenario (default 1,000,000)", positiveInteger)
  .option("--containers <n>", "containers of the list, snapshot and memory scenarios; unreferenced blobs of the gc scenario", positiveInteger)
  .option("--instances <n>", "ctrmeta instances of the cluster scenario (default 3)", positiveInteger)
  .option("--quick", "short runs with small states, as CI uses", false)
  .option("--json <file>", "also write the results as JSON to this file")
  .action(async (scenario: string, flags: { rounds: number; count?: number; events?: number; containers?: number; instances?: number; quick: boolean; json?: string }) => {
    const options: BenchOptions = { rounds: flags.rounds, quick: flags.quick };
    if (flags.count !== undefined) options.count = flags.count;
    if (flags.events !== undefined) options.events = flags.events;
    if (flags.containers !== undefined) options.containers = flags.containers;
    if (flags.instances !== undefined) options.instances = flags.instances;

    if (scenario === "ci") {
      process.exitCode = (await runCi()) ? 0 : 1;
      return;
    }
    const names = scenario === "all" ? Object.keys(SCENARIOS) : [scenario];
    const reports: Report[] = [];
    for (const name of names) {
      const run = SCENARIOS[name];
      if (!run) throw new InvalidArgumentError(`unknown scenario ${JSON.stringify(name)}: expected one of ${[...Object.keys(SCENARIOS), "all", "ci"].join(", ")}`);
      console.log(`\n== ${name}`);
      reports.push(await run(options));
    }
    printTable(reports);
    if (flags.json) writeJson(flags.json, reports, { command: process.argv.slice(2).join(" "), finishedAt: new Date().toISOString() });
  });

await program.parseAsync();
