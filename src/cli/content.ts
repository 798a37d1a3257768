/** `ctrmeta content`: commit, ls, info, label, rm and history of content records. */
import { Command } from "commander";
import { NotFound } from "../domain/errors.js";
import { AT_FLAGS, AT_HELP, forEachItem, formatLabels, parseCount, parseLabelArgs, printJson, printTable, readOptions, withClient } from "./common.js";
import { formatDecimalSize, formatHumanDuration } from "./format.js";
import { historyCommand } from "./history.js";

export function contentCommand(): Command {
  const command = new Command("content").description("manage content records (blob metadata)");

  command
    .command("commit")
    .description("record a blob that a node agent has written, with optional labels")
    .argument("<digest>")
    .requiredOption("--size <bytes>", "blob size in bytes")
    .argument("[labels...]", "key=value pairs (a bare key means key=true)")
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
    .option(AT_FLAGS, AT_HELP)
    .action(async (filters: string[], options: { quiet?: boolean; at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => {
        const records = await client.content.list(filters, callOptions);
        if (options.quiet) {
          for (const record of records) process.stdout.write(`${record.digest}\n`);
          return;
        }
        const now = Date.now();
        const age = (createdAt: string | undefined) => (createdAt ? formatHumanDuration(now - Date.parse(createdAt)) : "-");
        printTable(
          [
            ["DIGEST", "SIZE", "AGE", "LABELS"],
            ...records.map((r) => [r.digest, formatDecimalSize(r.size ?? 0), age(r.createdAt), formatLabels(r.labels) || "-"]),
          ],
          // ctr pads this table with tabs, so the AGE cells ("2 minutes") can contain spaces.
          { minWidth: 1, padding: 1, padChar: "\t", padLastCell: false },
        );
      });
    });

  command
    .command("info")
    .description("print a content record as JSON")
    .argument("<digest>")
    .option(AT_FLAGS, AT_HELP)
    .action(async (digest: string, options: { at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => printJson(await client.content.info(digest, callOptions)));
    });

  command
    .command("label")
    .description("set labels (key=value, or a bare key for key=true) and remove them (key=); prints the resulting labels")
    .argument("<digest>")
    .argument("[labels...]", "key=value pairs (a bare key means key=true)")
    .action(async (digest: string, args: string[], _options: unknown, cmd: Command) => {
      const labels = parseLabelArgs(args);
      const paths = Object.keys(labels).map((key) => `labels.${key}`);
      await withClient(cmd, async (client) => {
        // Without paths the service would replace every label, so no labels only prints the current ones.
        const updated = paths.length === 0 ? await client.content.info(digest) : await client.content.update({ digest, labels }, paths);
        process.stdout.write(`${formatLabels(updated.labels)}\n`);
      });
    });

  command
    .command("delete")
    .aliases(["rm", "del", "remove"])
    .description("delete content records and print their digests; a missing record is skipped")
    .argument("<digests...>")
    .action(async (digests: string[], _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(digests, async (digest) => {
          try {
            await client.content.delete(digest);
          } catch (error) {
            if (error instanceof NotFound) return;
            throw error;
          }
          process.stdout.write(`${digest}\n`);
        });
      });
    });

  command.addCommand(historyCommand({ kind: "content", keyName: "digest" }));

  return command;
}
