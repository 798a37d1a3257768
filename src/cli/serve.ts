/**
 * `ctrmeta serve`: run one instance. Without --server it starts its own nats-server
 * child with JetStream on 127.0.0.1:--port, keeping its data in --data-dir.
 */
import { resolve } from "node:path";
import { Command } from "commander";
import { pino } from "pino";
import { startNatsServer, type EmbeddedServer } from "../nats/server.js";
import { DEFAULT_SNAPSHOTTERS, Instance } from "../service.js";
import { globals, parseCount } from "./common.js";

interface ServeOptions {
  port: string;
  dataDir: string;
  snapshotter?: string[];
  replicas?: string;
  logLevel: string;
}

export function serveCommand(): Command {
  return new Command("serve")
    .description("run the ctrmeta service")
    .option("--port <port>", "port of the nats-server started without --server (127.0.0.1 only)", "4222")
    .option("--data-dir <dir>", "data directory of the nats-server started without --server", "ctrmeta-data")
    .option("--snapshotter <name...>", `accepted snapshotter names (default: ${DEFAULT_SNAPSHOTTERS.join(" ")})`)
    .option("--replicas <n>", "stream replicas: 1 on one server, 3 on a cluster")
    .option("--log-level <level>", "pino log level", "info")
    .action(async (options: ServeOptions, cmd: Command) => {
      const log = pino({ name: "ctrmeta", level: options.logLevel });
      let embedded: EmbeddedServer | undefined;
      let servers = globals(cmd).server ?? process.env.CTRMETA_SERVER;
      if (!servers) {
        const dataDir = resolve(options.dataDir);
        embedded = await startNatsServer({ port: parseCount("--port", options.port), dataDir });
        servers = embedded.url;
        log.info({ url: servers, dataDir, natsPid: embedded.pid }, "nats-server started");
      }

      let instance: Instance;
      try {
        instance = await Instance.start({
          servers,
          logger: log,
          ...(options.snapshotter ? { snapshotters: options.snapshotter } : {}),
          ...(options.replicas ? { replicas: parseCount("--replicas", options.replicas) } : {}),
        });
      } catch (error) {
        await embedded?.stop();
        throw error;
      }

      await new Promise<void>((done) => {
        const shutdown = (signal: string) => {
          log.info({ signal }, "shutting down");
          done();
        };
        process.once("SIGINT", () => shutdown("SIGINT"));
        process.once("SIGTERM", () => shutdown("SIGTERM"));
      });
      await instance.close();
      await embedded?.stop();
    });
}
