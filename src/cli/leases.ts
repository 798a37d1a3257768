/** `ctrmeta leases`: create, ls, rm [--sync], resources and resource changes. */
import { Command } from "commander";
import { InvalidArgument } from "../domain/errors.js";
import { forEachItem, formatLabels, parseLabelArgs, printTable, withClient } from "./common.js";

/** Parse a Go-style duration such as `1h`, `30m`, `1h30m`, `90s` into milliseconds. */
export function parseDuration(text: string): number {
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
    .argument("[labels...]", "key=value pairs")
    .option("--id <id>", "lease id; generated when absent")
    .option("--expires <duration>", "set containerd.io/gc.expire this far in the future, e.g. 24h")
    .action(async (args: string[], options: { id?: string; expires?: string }, cmd: Command) => {
      const labels = parseLabelArgs(args);
      if (options.expires) {
        const expiry = new Date(Date.now() + parseDuration(options.expires));
        labels["containerd.io/gc.expire"] = `${expiry.toISOString().slice(0, 19)}Z`;
      }
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
    .action(async (filters: string[], options: { quiet?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const leases = await client.leases.list(filters);
        if (options.quiet) {
          for (const lease of leases) process.stdout.write(`${lease.id}\n`);
          return;
        }
        printTable([["ID", "CREATED AT", "LABELS"], ...leases.map((l) => [l.id, l.createdAt ?? "", formatLabels(l.labels) || "-"])], 1, 1);
      });
    });

  command
    .command("delete")
    .aliases(["rm"])
    .description("delete leases")
    .argument("<ids...>")
    .option("--sync", "wait for a garbage collection before returning")
    .action(async (ids: string[], options: { sync?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        await forEachItem(ids, async (id) => {
          await client.leases.delete(id, options.sync ?? false);
          process.stdout.write(`${id}\n`);
        });
      });
    });

  command
    .command("resources")
    .description("list the resources of a lease")
    .argument("<id>")
    .action(async (id: string, _options: unknown, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const resources = await client.leases.listResources(id);
        printTable([["TYPE", "ID"], ...resources.map((r) => [r.type, r.id])], 1, 1);
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

  return command;
}
