/** `ctrmeta content`: commit, ls, info, label, rm on content records. */
import { Command } from "commander";
import { forEachItem, formatLabels, parseCount, parseLabelArgs, printJson, printTable, withClient } from "./common.js";

export function contentCommand(): Command {
  const command = new Command("content").description("manage content records (blob metadata)");

  command
    .command("commit")
    .description("record a blob that a node agent has written, with optional labels")
    .argument("<digest>")
    .requiredOption("--size <bytes>", "blob size in bytes")
    .argument("[labels...]", "key=value pairs")
    .option("--lease <id>", "add the blob to this lease")
    .action(async (digest: string, labels: string[], options: { size: string; lease?: string }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const info = { digest, size: parseCount("--size", options.size), labels: parseLabelArgs(labels) };
        printJson(await client.content.commit(info, options.lease ? { lease: options.lease } : {}));
      });
    });

  command
    .command("list")
    .alias("ls")
    .description("list content records, optionally filtered")
    .argument("[filters...]", "filters such as labels.containerd.io/gc.root")
    .option("-q, --quiet", "print only the digests")
    .action(async (filters: string[], options: { quiet?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const records = await client.content.list(filters);
        if (options.quiet) {
          for (const record of records) process.stdout.write(`${record.digest}\n`);
          return;
        }
        printTable(
          [
            ["DIGEST", "SIZE", "CREATED AT", "LABELS"],
            ...records.map((r) => [r.digest, String(r.size ?? 0), r.createdAt ?? "", formatLabels(r.labels) || "-"]),
          ],
          1,
          1,
        );
      });
    });

  command
    .command("info")
    .description("print a content record as JSON")
    .argument("<digest>")
    .action(async (digest: string, _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => printJson(await client.content.info(digest)));
    });

  command
    .command("label")
    .description("set labels (key=value) and remove them (key=); prints the resulting labels")
    .argument("<digest>")
    .argument("[labels...]", "key=value pairs")
    .action(async (digest: string, args: string[], _options: unknown, cmd: Command) => {
      const labels = parseLabelArgs(args);
      await withClient(cmd, async (client) => {
        const updated = await client.content.update({ digest, labels }, Object.keys(labels).map((key) => `labels.${key}`));
        process.stdout.write(`${formatLabels(updated.labels)}\n`);
      });
    });

  command
    .command("delete")
    .aliases(["rm", "del", "remove"])
    .description("delete content records")
    .argument("<digests...>")
    .action(async (digests: string[], _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(digests, (digest) => client.content.delete(digest));
      });
    });

  return command;
}
