/** `ctrmeta status`: the log, consumers, each instance's view and lag, and the collector. */
import { Command } from "commander";
import { printJson, printTable, withClient } from "./common.js";

interface StreamStatus {
  messages: number;
  bytes: number;
  lastSeq: number;
  replicas: number;
}

interface InstanceStatus {
  name: string;
  leader: boolean;
  view: { seq: number; lagEvents: number; lagSeconds: number };
}

export function statusCommand(): Command {
  return new Command("status")
    .description("print the log, its consumers, every instance's view position and lag, and the garbage collector")
    .option("--json", "print the status as JSON")
    .action(async (options: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const status = await client.status.get();
        if (options.json) {
          printJson(status);
          return;
        }
        const streams = status.streams as Record<string, StreamStatus>;
        printTable([["STREAM", "MESSAGES", "BYTES", "LAST_SEQ", "REPLICAS"], ...Object.entries(streams).map(([name, s]) => [name, String(s.messages), String(s.bytes), String(s.lastSeq), String(s.replicas)])]);
        process.stdout.write("\n");
        const instances = status.instances as InstanceStatus[];
        printTable([["INSTANCE", "LEADER", "VIEW_SEQ", "LAG_EVENTS", "LAG_SECONDS"], ...instances.map((i) => [i.name, i.leader ? "yes" : "", String(i.view.seq), String(i.view.lagEvents), i.view.lagSeconds.toFixed(3)])]);
        const gc = status.gc as { state?: string; collections?: number; lastAt?: string; error?: string };
        process.stdout.write(`\ngc: ${gc.error ?? `${gc.state}, ${gc.collections} collections, last at ${gc.lastAt ?? "never"}`}\n`);
      });
    });
}
