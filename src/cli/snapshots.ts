/** `ctrmeta snapshots --snapshotter NAME`: prepare, view, commit, ls, info, label, rm. */
import { Command } from "commander";
import { forEachItem, formatLabels, parseLabelArgs, printJson, printTable, withClient } from "./common.js";

function snapshotter(cmd: Command): string {
  return (cmd.optsWithGlobals() as { snapshotter: string }).snapshotter;
}

export function snapshotsCommand(): Command {
  const command = new Command("snapshots")
    .aliases(["snapshot"])
    .description("manage snapshot records")
    .option("--snapshotter <name>", "snapshotter name", process.env.CONTAINERD_SNAPSHOTTER ?? "overlayfs");

  command
    .command("prepare")
    .description("record an active snapshot")
    .argument("<key>")
    .argument("[parent]", "key of a committed parent")
    .option("--label <key=value...>", "labels")
    .option("--lease <id>", "add the snapshot to this lease")
    .action(async (key: string, parent: string | undefined, options: { label?: string[]; lease?: string }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const request = { snapshotter: snapshotter(cmd), key, parent: parent ?? "", labels: parseLabelArgs(options.label ?? []) };
        printJson(await client.snapshots.prepare(request, options.lease ? { lease: options.lease } : {}));
      });
    });

  command
    .command("view")
    .description("record a read-only view snapshot")
    .argument("<key>")
    .argument("[parent]", "key of a committed parent")
    .action(async (key: string, parent: string | undefined, _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        printJson(await client.snapshots.view({ snapshotter: snapshotter(cmd), key, parent: parent ?? "" }));
      });
    });

  command
    .command("commit")
    .description("commit an active snapshot under a new name")
    .argument("<name>")
    .argument("<key>")
    .action(async (name: string, key: string, _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        printJson(await client.snapshots.commit({ snapshotter: snapshotter(cmd), name, key }));
      });
    });

  command
    .command("list")
    .alias("ls")
    .description("list snapshot records of the snapshotter, optionally filtered")
    .argument("[filters...]", "filters such as kind==committed")
    .action(async (filters: string[], _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const records = await client.snapshots.list(snapshotter(cmd), filters);
        printTable([["KEY", "PARENT", "KIND"], ...records.map((r) => [r.name, r.parent ?? "", r.kind ?? ""])], 1, 1);
      });
    });

  command
    .command("info")
    .description("print a snapshot record as JSON")
    .argument("<key>")
    .action(async (key: string, _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => printJson(await client.snapshots.stat(snapshotter(cmd), key)));
    });

  command
    .command("label")
    .description("set labels (key=value) and remove them (key=); prints the resulting labels")
    .argument("<key>")
    .argument("[labels...]", "key=value pairs")
    .action(async (key: string, args: string[], _options: unknown, cmd: Command) => {
      const labels = parseLabelArgs(args);
      await withClient(cmd, async (client) => {
        const paths = Object.keys(labels).map((label) => `labels.${label}`);
        const updated = await client.snapshots.update(snapshotter(cmd), { name: key, labels }, paths);
        process.stdout.write(`${formatLabels(updated.labels)}\n`);
      });
    });

  command
    .command("delete")
    .aliases(["rm", "remove"])
    .description("remove snapshot records; a snapshot with children cannot be removed")
    .argument("<keys...>")
    .action(async (keys: string[], _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(keys, (key) => client.snapshots.remove(snapshotter(cmd), key));
      });
    });

  return command;
}
