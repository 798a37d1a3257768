/** `ctrmeta gc`: run a collection, explain why an object is kept, show the scheduler. */
import { Command } from "commander";
import type { CollectionStats, GcNodeRecord } from "../client/services.js";
import { InvalidArgument } from "../domain/errors.js";
import { printJson, withClient } from "./common.js";

function describeNode(node: GcNodeRecord): string {
  return node.kind === "snapshot" ? `snapshot ${node.snapshotter}/${node.key}` : `${node.kind} ${node.key}`;
}

function summary(stats: CollectionStats): string {
  const { content, snapshots, leases } = stats.removed;
  return (
    `removed ${content} content, ${snapshots} snapshots, ${leases} leases` +
    ` (${stats.candidates} candidates, ${stats.skipped} skipped, ${stats.marked} marked) in ${Math.round(stats.durationMs)} ms`
  );
}

export function gcCommand(): Command {
  const command = new Command("gc").description("garbage collection; `ctrmeta gc` alone runs a collection (gc run)");

  command
    .command("run", { isDefault: true })
    .description("run a collection, wait for it and print its stats")
    .option("--json", "print the stats as JSON")
    .action(async (options: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const stats = await client.gc.collect();
        if (options.json) printJson(stats);
        else process.stdout.write(`${summary(stats)}\n`);
      });
    });

  command
    .command("explain")
    .description("print the chain of references that keeps an existing object, or say that nothing does")
    .argument("<kind>", "content, snapshot, lease, image or container")
    .argument("<key>", "digest, snapshot key, lease id, image name or container id")
    .option("--snapshotter <name>", "snapshotter of a snapshot (env CONTAINERD_SNAPSHOTTER)", process.env.CONTAINERD_SNAPSHOTTER ?? "overlayfs")
    .action(async (kind: string, key: string, options: { snapshotter: string }, cmd: Command) => {
      if (!["content", "snapshot", "lease", "image", "container"].includes(kind)) {
        throw new InvalidArgument(`kind ${kind}: expected content, snapshot, lease, image or container`);
      }
      await withClient(cmd, async (client, global) => {
        const snapshotter = kind === "snapshot" ? options.snapshotter : undefined;
        const explanation = await client.gc.explain(kind as GcNodeRecord["kind"], key, snapshotter);
        const name = `${describeNode(explanation.node)} in namespace ${global.namespace}`;
        if (!explanation.reachable) {
          process.stdout.write(`${name} is unreferenced: the next collection removes it\n`);
          return;
        }
        process.stdout.write(`${name} is kept by:\n`);
        explanation.chain.forEach((node, index) => {
          process.stdout.write(`  ${index === 0 ? "root " : "  -> "}${describeNode(node)}\n`);
        });
      });
    });

  command
    .command("status")
    .description("print the scheduler state, counters and the last collection's stats as JSON")
    .action(async (_options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => printJson(await client.gc.status()));
    });

  return command;
}
