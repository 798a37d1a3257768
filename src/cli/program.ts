/**
 * The `ctrmeta` command line, shaped like containerd's `ctr`. Global options may
 * come before or after the command name.
 */
import { Command, CommanderError } from "commander";
import { packageVersion } from "../service.js";
import { DEFAULT_SERVER, ReportedError } from "./common.js";
import { containersCommand } from "./containers.js";
import { contentCommand } from "./content.js";
import { eventsCommand } from "./events.js";
import { gcCommand } from "./gc.js";
import { imagesCommand } from "./images.js";
import { leasesCommand } from "./leases.js";
import { namespacesCommand } from "./namespaces.js";
import { projectionsCommand } from "./projections.js";
import { serveCommand } from "./serve.js";
import { snapshotsCommand } from "./snapshots.js";
import { statusCommand } from "./status.js";

export function buildProgram(): Command {
  const program = new Command("ctrmeta")
    .description("containerd metadata service on NATS JetStream")
    .version(packageVersion())
    .option("--server <url>", `NATS server URL (env CTRMETA_SERVER; default ${DEFAULT_SERVER}); serve starts its own without it`)
    .option("-n, --namespace <namespace>", "namespace of requests (env CONTAINERD_NAMESPACE)", process.env.CONTAINERD_NAMESPACE ?? "default")
    .option("--prefix <prefix>", "subject and stream prefix of the service", "ctrmeta")
    .option("--timeout <ms>", "request timeout in milliseconds", "30000")
    .exitOverride();

  program.addCommand(serveCommand());
  program.addCommand(containersCommand());
  program.addCommand(imagesCommand());
  program.addCommand(namespacesCommand());
  program.addCommand(contentCommand());
  program.addCommand(snapshotsCommand());
  program.addCommand(leasesCommand());
  program.addCommand(eventsCommand());
  program.addCommand(gcCommand());
  program.addCommand(projectionsCommand());
  program.addCommand(statusCommand());
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/** Run the CLI and return its exit code. */
export async function runCli(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (!(error instanceof ReportedError)) process.stderr.write(`ctrmeta: ${(error as Error).message}\n`);
    return 1;
  }
}
