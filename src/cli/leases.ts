/** `ctrmeta leases`: create, ls, rm [--sync], resources, resource changes and history. */
import { Command } from "commander";
import { InvalidArgument } from "../domain/errors.js";
import { AT_FLAGS, AT_HELP, forEachItem, formatLabels, parseLabelArgs, printTable, readOptions, withClient } from "./common.js";
import { formatLocalRfc3339, formatUtcRfc3339 } from "./format.js";
import { historyCommand } from "./history.js";

const GC_EXPIRE_LABEL = "containerd.io/gc.expire";

/** Parse a Go-style duration such as `1h`, `30m`, `1h30m`, `90s` or `0` into milliseconds. */
export function parseDuration(text: string): number {
  if (text === "0") return 0;
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const pattern = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of text.matchAll(pattern)) {
    total += Number(match[1]) * units[match[2]!]!;
    consumed += match[0].length;
  }
  if (text === "" || consumed !== text.length) throw new InvalidArgument(`--expires ${text}: expected a duration such as 1h or 30m`);
  return total;
}

export function leasesCommand(): Command {
  const command = new Command("leases").description("manage leases");

  command
    .command("create")
    .description("create a lease and print its id")
    .argument("[labels...]", "key=value pairs (a bare key means key=true)")
    .option("--id <id>", "lease id; generated when absent")
    .option("-x, --expires <duration>", `set ${GC_EXPIRE_LABEL} this far in the future unless a label sets it, e.g. 1h30m; 0: never expires`, "24h")
    .action(async (args: string[], options: { id?: string; expires: string }, cmd: Command) => {
      const labels = parseLabelArgs(args);
      const expiresInMs = parseDuration(options.expires);
      if (expiresInMs > 0 && !Object.hasOwn(labels, GC_EXPIRE_LABEL)) labels[GC_EXPIRE_LABEL] = formatUtcRfc3339(new Date(Date.now() + expiresInMs));
      await withClient(cmd, async (client) => {
        const lease = await client.leases.create(options.id ? { id: options.id, labels } : { labels });
        process.stdout.write(`${lease.id}\n`);
      });
    });

  command
    .command("list")
    .alias("ls")
    .description("list leases, optionally filtered")
    .argument("[filters...]", "filters such as labels.purpose==ci")
    .option("-q, --quiet", "print only the ids")
    .option(AT_FLAGS, AT_HELP)
    .action(async (filters: string[], options: { quiet?: boolean; at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => {
        const leases = await client.leases.list(filters, callOptions);
        if (options.quiet) {
          for (const lease of leases) process.stdout.write(`${lease.id}\n`);
          return;
        }
        const created = (createdAt: string | undefined) => (createdAt ? formatLocalRfc3339(new Date(createdAt)) : "-");
        printTable([["ID", "CREATED AT", "LABELS"], ...leases.map((l) => [l.id, created(l.createdAt), formatLabels(l.labels) || "-"])]);
      });
    });

  command
    .command("delete")
    .aliases(["rm", "del", "remove"])
    .description("delete leases and print their ids")
    .argument("<ids...>")
    .option("--sync", "wait for a garbage collection after the last deletion before returning")
    .action(async (ids: string[], options: { sync?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(ids, async (id, index) => {
          // As in ctr, one collection after the last deletion covers them all.
          await client.leases.delete(id, (options.sync ?? false) && index === ids.length - 1);
          process.stdout.write(`${id}\n`);
        });
      });
    });

  command
    .command("resources")
    .description("list the resources of a lease")
    .argument("<id>")
    .option(AT_FLAGS, AT_HELP)
    .action(async (id: string, options: { at?: string }, cmd: Command) => {
      const callOptions = readOptions(options);
      await withClient(cmd, async (client) => {
        const resources = await client.leases.listResources(id, callOptions);
        printTable([["TYPE", "ID"], ...resources.map((r) => [r.type, r.id])]);
      });
    });

  command
    .command("add-resource")
    .description("add a resource (type content, ingests or snapshots/<snapshotter>) to a lease")
    .argument("<id>")
    .argument("<type>")
    .argument("<resource>")
    .action(async (id: string, type: string, resource: string, _options: unknown, cmd: Command) => {
      await withClient(cmd, (client) => client.leases.addResource(id, { id: resource, type }));
    });

  command
    .command("delete-resource")
    .description("remove a resource from a lease")
    .argument("<id>")
    .argument("<type>")
    .argument("<resource>")
    .action(async (id: string, type: string, resource: string, _options: unknown, cmd: Command) => {
      await withClient(cmd, (client) => client.leases.deleteResource(id, { id: resource, type }));
    });

  command.addCommand(historyCommand({ kind: "lease", keyName: "id" }));

  return command;
}
