/** `ctrmeta containers|c`: create, ls, info, label, update, rm, history. */
import { Command } from "commander";
import type { ContainerRecord } from "../client/services.js";
import { InvalidArgument } from "../domain/errors.js";
import { AT_FLAGS, AT_HELP, forEachItem, formatLabels, parseLabelArgs, printJson, readJsonFile, readOptions, withClient } from "./common.js";
import { historyCommand } from "./history.js";
import { listPrinter } from "./list-printer.js";

function readContainer(path: string): ContainerRecord {
  const value = readJsonFile(path) as { container?: ContainerRecord } & ContainerRecord;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidArgument(`${path}: expected a container object`);
  }
  // Accept both a bare record and an API body `{container: ...}`.
  return value.container ?? value;
}

export function containersCommand(): Command {
  const command = new Command("containers").alias("c").description("manage containers");

  command
    .command("create")
    .description("create a container from a JSON record (as in the API: id, runtime, spec, ...)")
    .requiredOption("--file <file>", "JSON file with the container record, or - for stdin")
    .action(async (options: { file: string }, cmd: Command) => {
      const record = readContainer(options.file);
      await withClient(cmd, async (client) => {
        await client.containers.create(record);
      });
    });

  command
    .command("list")
    .alias("ls")
    .description("list containers, optionally filtered (containerd filter syntax; several filters are ORed); rows print as they arrive")
    .argument("[filters...]", "filters such as labels.app==web")
    .option("-q, --quiet", "print only the container ids")
    .option("--format <format>", "table or json", "table")
    .option(AT_FLAGS, AT_HELP)
    .action(async (filters: string[], options: { quiet?: boolean; format: string; at?: string }, cmd: Command) => {
      if (options.format !== "table" && options.format !== "json") {
        throw new InvalidArgument(`--format ${options.format}: expected table or json`);
      }
      const callOptions = readOptions(options);
      const format = options.quiet ? "quiet" : options.format;
      await withClient(cmd, async (client) => {
        const printer = listPrinter(format);
        for await (const chunk of client.containers.listChunks(filters, callOptions)) await printer.chunk(chunk);
        await printer.end();
      });
    });

  command
    .command("info")
    .description("print a container as JSON")
    .argument("<id>")
    .option(AT_FLAGS, AT_HELP)
    .action(async (id: string, options: { at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => printJson(await client.containers.get(id, callOptions)));
    });

  command
    .command("label")
    .description("set labels (key=value, or a bare key for key=true) and remove them (key=); prints the resulting labels")
    .argument("<id>")
    .argument("[labels...]", "key=value pairs (a bare key means key=true)")
    .action(async (id: string, args: string[], _options: unknown, cmd: Command) => {
      const labels = parseLabelArgs(args);
      await withClient(cmd, async (client) => {
        const paths = Object.keys(labels).map((key) => `labels.${key}`);
        const updated = await client.containers.update({ id, labels }, paths);
        process.stdout.write(`${formatLabels(updated.labels)}\n`);
      });
    });

  command
    .command("update")
    .description(
      "update a container from a JSON record; without --paths every mutable field is replaced, " +
        "and the record must repeat runtime.name and snapshotter, which cannot change",
    )
    .argument("<id>")
    .requiredOption("--file <file>", "JSON file with the container record, or - for stdin; its id, if any, must be <id>")
    .option("--paths <paths>", "comma-separated field paths, e.g. labels.app,image")
    .action(async (id: string, options: { file: string; paths?: string }, cmd: Command) => {
      const fromFile = readContainer(options.file);
      if (fromFile.id !== undefined && fromFile.id !== id) {
        throw new InvalidArgument(`${options.file === "-" ? "stdin" : options.file}: the record's id ${JSON.stringify(fromFile.id)} differs from the argument ${JSON.stringify(id)}`);
      }
      const record = { ...fromFile, id };
      const paths = options.paths ? options.paths.split(",").map((path) => path.trim()).filter((path) => path !== "") : [];
      await withClient(cmd, async (client) => printJson(await client.containers.update(record, paths)));
    });

  command
    .command("delete")
    .aliases(["rm", "del"])
    .description("delete containers")
    .argument("<ids...>")
    .action(async (ids: string[], _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(ids, (id) => client.containers.delete(id));
      });
    });

  command.addCommand(historyCommand({ kind: "container", keyName: "id" }));

  return command;
}
