/** `ctrmeta snapshots --snapshotter NAME`: prepare, view, commit, ls, info, label, rm, history. */
import { Command } from "commander";
import type { SnapshotRecord } from "../client/services.js";
import { quote } from "../domain/errors.js";
import { AT_FLAGS, AT_HELP, forEachItem, formatLabels, parseLabelArgs, printJson, printTable, readOptions, withClient, wrapError } from "./common.js";
import { formatUtcRfc3339 } from "./format.js";
import { historyCommand } from "./history.js";

const GC_ROOT_LABEL = "containerd.io/gc.root";

interface CreateOptions {
  label?: string[];
  lease?: string;
}

function snapshotter(cmd: Command): string {
  return (cmd.optsWithGlobals() as { snapshotter: string }).snapshotter;
}

/**
 * Build the labels of a new snapshot. With `rooted`, as in ctr's prepare and commit,
 * the snapshot becomes a gc root (the label's value is the current time) so that the
 * next collection keeps it, unless it joins a lease or the caller sets that label.
 */
function createLabels(options: CreateOptions, rooted: boolean): Record<string, string> {
  const labels = parseLabelArgs(options.label ?? []);
  if (rooted && options.lease === undefined && !Object.hasOwn(labels, GC_ROOT_LABEL)) labels[GC_ROOT_LABEL] = formatUtcRfc3339(new Date());
  return labels;
}

function leaseOption(options: CreateOptions): { lease?: string } {
  return options.lease === undefined ? {} : { lease: options.lease };
}

/** Format a kind as ctr prints it (Go's snapshots.Kind.String): `Active`, `View`, `Committed`. */
function formatKind(kind: SnapshotRecord["kind"]): string {
  return kind === undefined ? "Unknown" : kind.charAt(0).toUpperCase() + kind.slice(1);
}

export function snapshotsCommand(): Command {
  const command = new Command("snapshots")
    .aliases(["snapshot"])
    .description("manage snapshot records")
    .option("--snapshotter <name>", "snapshotter name (env CONTAINERD_SNAPSHOTTER)", process.env.CONTAINERD_SNAPSHOTTER ?? "overlayfs");

  command
    .command("prepare")
    .description(`record an active snapshot and print it; without --lease it gets the label ${GC_ROOT_LABEL}, as with ctr`)
    .argument("<key>")
    .argument("[parent]", "key of a committed parent")
    .option("--label <key=value...>", "labels")
    .option("--lease <id>", "add the snapshot to this lease instead of making it a gc root")
    .action(async (key: string, parent: string | undefined, options: CreateOptions, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const request = { snapshotter: snapshotter(cmd), key, parent: parent ?? "", labels: createLabels(options, true) };
        printJson(await client.snapshots.prepare(request, leaseOption(options)));
      });
    });

  command
    .command("view")
    .description("record a read-only view snapshot and print it")
    .argument("<key>")
    .argument("[parent]", "key of a committed parent")
    .option("--label <key=value...>", "labels")
    .option("--lease <id>", "add the snapshot to this lease")
    .action(async (key: string, parent: string | undefined, options: CreateOptions, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const request = { snapshotter: snapshotter(cmd), key, parent: parent ?? "", labels: createLabels(options, false) };
        printJson(await client.snapshots.view(request, leaseOption(options)));
      });
    });

  command
    .command("commit")
    .description(`commit an active snapshot under a new name and print it; without --lease it gets the label ${GC_ROOT_LABEL}, as with ctr`)
    .argument("<name>")
    .argument("<key>", "key of the active snapshot")
    .option("--label <key=value...>", "labels")
    .option("--lease <id>", "add the committed snapshot to this lease instead of making it a gc root")
    .action(async (name: string, key: string, options: CreateOptions, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const request = { snapshotter: snapshotter(cmd), name, key, labels: createLabels(options, true) };
        printJson(await client.snapshots.commit(request, leaseOption(options)));
      });
    });

  command
    .command("list")
    .alias("ls")
    .description("list snapshot records of the snapshotter, optionally filtered")
    .argument("[filters...]", "filters such as kind==committed")
    .option(AT_FLAGS, AT_HELP)
    .action(async (filters: string[], options: { at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => {
        const records = await client.snapshots.list(snapshotter(cmd), filters, callOptions);
        printTable([["KEY", "PARENT", "KIND"], ...records.map((r) => [r.name, r.parent ?? "", formatKind(r.kind)])]);
      });
    });

  command
    .command("info")
    .description("print a snapshot record as JSON")
    .argument("<key>")
    .option(AT_FLAGS, AT_HELP)
    .action(async (key: string, options: { at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => printJson(await client.snapshots.stat(snapshotter(cmd), key, callOptions)));
    });

  command
    .command("label")
    .description("set labels (key=value) and remove them (key=); prints the resulting labels")
    .argument("<key>")
    .argument("[labels...]", "key=value pairs")
    .action(async (key: string, args: string[], _options: unknown, cmd: Command) => {
      const labels = parseLabelArgs(args);
      const paths = Object.keys(labels).map((label) => `labels.${label}`);
      await withClient(cmd, async (client) => {
        // Without paths the service would replace every label, so no labels only prints the current ones.
        const updated =
          paths.length === 0
            ? await client.snapshots.stat(snapshotter(cmd), key)
            : await client.snapshots.update(snapshotter(cmd), { name: key, labels }, paths);
        process.stdout.write(`${formatLabels(updated.labels)}\n`);
      });
    });

  command
    .command("delete")
    .aliases(["rm", "del", "remove"])
    .description("remove snapshot records; a snapshot with children cannot be removed")
    .argument("<keys...>")
    .action(async (keys: string[], _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(keys, async (key) => {
          try {
            await client.snapshots.remove(snapshotter(cmd), key);
          } catch (error) {
            throw wrapError(error, `failed to remove ${quote(key)}`);
          }
        });
      });
    });

  command.addCommand(historyCommand({ kind: "snapshot", keyName: "key", snapshotter }));

  return command;
}
