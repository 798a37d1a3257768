/** `ctrmeta namespaces|ns`: create, ls, info, label, rm, history. */
import { Command } from "commander";
import { NotFound, quote } from "../domain/errors.js";
import { AT_FLAGS, AT_HELP, forEachItem, formatLabels, parseLabelArgs, printJson, printTable, readOptions, withClient, wrapError } from "./common.js";
import { historyCommand } from "./history.js";

export function namespacesCommand(): Command {
  const command = new Command("namespaces").aliases(["ns", "namespace"]).description("manage namespaces");

  command
    .command("create")
    .alias("c")
    .description("create a namespace with optional labels")
    .argument("<name>")
    .argument("[labels...]", "key=value pairs (a bare key means key=true)")
    .action(async (name: string, labels: string[], _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await client.namespaces.create({ name, labels: parseLabelArgs(labels) });
      });
    });

  command
    .command("list")
    .alias("ls")
    .description("list namespaces and their labels")
    .option("-q, --quiet", "print only the names")
    .option(AT_FLAGS, AT_HELP)
    .action(async (options: { quiet?: boolean; at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => {
        const namespaces = await client.namespaces.list(callOptions);
        if (options.quiet) {
          for (const namespace of namespaces) process.stdout.write(`${namespace.name}\n`);
          return;
        }
        printTable([["NAME", "LABELS"], ...namespaces.map((ns) => [ns.name, formatLabels(ns.labels)])]);
      });
    });

  command
    .command("info")
    .description("print a namespace and its labels as JSON")
    .argument("<name>")
    .option(AT_FLAGS, AT_HELP)
    .action(async (name: string, options: { at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => {
        // The service returns empty labels for a namespace that does not exist, as containerd does.
        const names = (await client.namespaces.list(callOptions)).map((namespace) => namespace.name);
        if (!names.includes(name)) throw new NotFound(`namespace ${quote(name)}`);
        printJson(await client.namespaces.get(name, callOptions));
      });
    });

  command
    .command("label")
    .description("set labels (key=value, or a bare key for key=true) and remove them (key=)")
    .argument("<name>")
    .argument("[labels...]", "key=value pairs (a bare key means key=true)")
    .action(async (name: string, args: string[], _options: unknown, cmd: Command) => {
      // An update without paths would replace every label, so no labels means no request.
      if (args.length === 0) return;
      const labels = parseLabelArgs(args);
      await withClient(cmd, async (client) => {
        const paths = Object.keys(labels).map((key) => `labels.${key}`);
        await client.namespaces.update({ name, labels }, paths);
      });
    });

  command
    .command("remove")
    .aliases(["rm"])
    .description("delete namespaces and print their names; a namespace must be empty, and a missing one counts as deleted")
    .argument("<names...>")
    .action(async (names: string[], _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(names, async (name) => {
          try {
            await client.namespaces.delete(name);
          } catch (error) {
            if (!(error instanceof NotFound)) throw wrapError(error, `unable to delete ${name}`);
          }
          process.stdout.write(`${name}\n`);
        });
      });
    });

  command.addCommand(historyCommand({ kind: "namespace", keyName: "name" }));

  return command;
}
