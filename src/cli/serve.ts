/**
 * `ctrmeta serve`: run one instance. Without --server it starts its own nats-server
 * child with JetStream on 127.0.0.1:--port, keeping its data in --data-dir.
 */
import { resolve } from "node:path";
import { Command } from "commander";
import { pino } from "pino";
import { InvalidArgument } from "../domain/errors.js";
import type { SchedulerConfig } from "../gc/scheduler.js";
import { natsAuthFromEnv } from "../nats/auth.js";
import { startNatsServer, type EmbeddedServer } from "../nats/server.js";
import { DEFAULT_SNAPSHOTTERS, runInstance } from "../service.js";
import { globals, parseCount } from "./common.js";

interface ServeOptions {
  metricsPort?: string;
  metricsAddress: string;
  gc: boolean;
  gcPauseThreshold?: string;
  gcDeletionThreshold?: string;
  gcMutationThreshold?: string;
  gcScheduleDelay?: string;
  gcStartupDelay?: string;
  port: string;
  dataDir: string;
  snapshotter?: string[];
  replicas?: string;
  logLevel: string;
  grpcAddress?: string;
}

function parseFraction(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new InvalidArgument(`${name} ${value}: expected a number >= 0`);
  return number;
}

/** The scheduler settings given on the command line; containerd's defaults fill the rest. */
function gcConfig(options: ServeOptions): Partial<SchedulerConfig> {
  const config: Partial<SchedulerConfig> = {};
  if (options.gcPauseThreshold !== undefined) {
    config.pauseThreshold = parseFraction("--gc-pause-threshold", options.gcPauseThreshold);
    if (config.pauseThreshold > 0.5) throw new InvalidArgument(`--gc-pause-threshold ${options.gcPauseThreshold}: expected a fraction from 0 to 0.5`);
  }
  if (options.gcDeletionThreshold !== undefined) config.deletionThreshold = parseCount("--gc-deletion-threshold", options.gcDeletionThreshold);
  if (options.gcMutationThreshold !== undefined) config.mutationThreshold = parseCount("--gc-mutation-threshold", options.gcMutationThreshold);
  if (options.gcScheduleDelay !== undefined) config.scheduleDelayMs = parseCount("--gc-schedule-delay", options.gcScheduleDelay);
  if (options.gcStartupDelay !== undefined) config.startupDelayMs = parseCount("--gc-startup-delay", options.gcStartupDelay);
  return config;
}

export function serveCommand(): Command {
  return new Command("serve")
    .description("run the ctrmeta service")
    .option("--port <port>", "port of the nats-server started without --server (127.0.0.1 only)", "4222")
    .option("--data-dir <dir>", "data directory of the nats-server started without --server", "ctrmeta-data")
    .option("--snapshotter <name...>", `accepted snapshotter names (default: ${DEFAULT_SNAPSHOTTERS.join(" ")})`)
    .option("--replicas <n>", "stream replicas: 1 on one server, 3 on a cluster")
    .option("--log-level <level>", "pino log level", "info")
    .option("--metrics-port <port>", "serve Prometheus metrics over HTTP at /metrics on this port")
    .option("--metrics-address <address>", "address of the metrics endpoint", "127.0.0.1")
    .option("--grpc-address <path>", "also serve containerd's gRPC API on this unix socket (PATH or unix://PATH), mode 0600")
    .option("--no-gc", "never run garbage collection here; requests go to the instance that does")
    .option("--gc-pause-threshold <fraction>", "target fraction of time spent collecting, 0 to 0.5 (default 0.02)")
    .option("--gc-deletion-threshold <n>", "deletions that force a collection; 0: never by count (default 0)")
    .option("--gc-mutation-threshold <n>", "mutations after which the next tick collects; 0: never (default 100)")
    .option("--gc-schedule-delay <ms>", "delay before a collection scheduled now, in ms (default 0)")
    .option("--gc-startup-delay <ms>", "first collection after start, in ms; 0: none (default 100)")
    .addHelpText(
      "after",
      "\nWith --server, the service authenticates as CTRMETA_NATS_USER with the password CTRMETA_NATS_PASSWORD when they are set.",
    )
    .action(async (options: ServeOptions, cmd: Command) => {
      const levels = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];
      if (!levels.includes(options.logLevel)) throw new InvalidArgument(`--log-level ${options.logLevel}: expected one of ${levels.join(", ")}`);
      const log = pino({ name: "ctrmeta", level: options.logLevel });
      const gc = options.gc ? gcConfig(options) : false;
      let embedded: EmbeddedServer | undefined;
      // Only an explicit --server makes serve use an existing NATS; CTRMETA_SERVER
      // is where clients connect, and must not stop serve from starting its own.
      let servers = globals(cmd).server;
      if (!servers) {
        const dataDir = resolve(options.dataDir);
        embedded = await startNatsServer({ port: parseCount("--port", options.port), dataDir });
        servers = embedded.url;
        log.info({ url: servers, dataDir, natsPid: embedded.pid }, "nats-server started");
      }

      const stop = new Promise<void>((done) => {
        const shutdown = (signal: string) => {
          log.info({ signal }, "shutting down");
          done();
        };
        process.once("SIGINT", () => shutdown("SIGINT"));
        process.once("SIGTERM", () => shutdown("SIGTERM"));
      });
      try {
        await runInstance(
          {
            servers,
            ...(embedded ? {} : natsAuthFromEnv()),
            logger: log,
            ...(options.snapshotter ? { snapshotters: options.snapshotter } : {}),
            ...(options.replicas ? { replicas: parseCount("--replicas", options.replicas) } : {}),
            gc,
            ...(options.grpcAddress ? { grpcAddress: options.grpcAddress } : {}),
            ...(options.metricsPort ? { metricsPort: parseCount("--metrics-port", options.metricsPort), metricsAddress: options.metricsAddress } : {}),
          },
          stop,
        );
      } finally {
        await embedded?.stop();
      }
    });
}
