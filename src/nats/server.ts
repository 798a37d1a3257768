/**
 * Starts a `nats-server` child process with JetStream on 127.0.0.1, for
 * `ctrmeta serve` without `--server` and for tests.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, createWriteStream, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";

export interface EmbeddedServerOptions {
  port: number;
  /** JetStream store directory parent; the server keeps its files in `<dataDir>/jetstream`. */
  dataDir: string;
  /** Path of the nats-server binary; found by findNatsServer() by default. */
  binary?: string;
  /** Extra command-line arguments, e.g. a cluster configuration. */
  extraArgs?: string[];
  readyTimeoutMs?: number;
  /** File to append the server's log lines to. Without it they are discarded. */
  logFile?: string;
}

export class EmbeddedServerError extends Error {}

export interface EmbeddedServer {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stop the server with SIGTERM (SIGKILL after STOP_GRACE_MS); idempotent. */
  stop(): Promise<void>;
  /** Kill the server at once with SIGKILL, as a crash would. */
  kill(): Promise<void>;
}

/** Time a stopping server gets to shut down after SIGTERM before it is killed, in ms. */
const STOP_GRACE_MS = 15_000;

/** Ask the OS for a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function waitForExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/**
 * Locate nats-server: $NATS_SERVER_BIN, then PATH, then /usr/sbin and
 * /usr/local/sbin, where Debian installs it but a user's PATH often lacks.
 * Returns the bare name when nothing is found, so spawning reports ENOENT.
 */
export function findNatsServer(): string {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  const directories = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin"];
  for (const directory of directories) {
    if (directory === "") continue;
    const candidate = join(directory, "nats-server");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return "nats-server";
}

export async function startNatsServer(options: EmbeddedServerOptions): Promise<EmbeddedServer> {
  const binary = options.binary ?? findNatsServer();
  mkdirSync(options.dataDir, { recursive: true });
  const args = ["-a", "127.0.0.1", "-p", String(options.port), "-js", "-sd", join(options.dataDir, "jetstream"), ...(options.extraArgs ?? [])];
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });

  let onData: ((chunk: Buffer) => void) | undefined;
  let output = "";
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new EmbeddedServerError(`nats-server did not report ready within ${options.readyTimeoutMs ?? 15000} ms:\n${output.slice(-2000)}`));
    }, options.readyTimeoutMs ?? 15_000);
    onData = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-8192);
      if (output.includes("Server is ready")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stderr!.on("data", onData);
    child.once("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === "ENOENT") {
        reject(new EmbeddedServerError(`${binary} not found on PATH: install it (sudo apt-get install nats-server) or pass --server URL to use a running NATS`));
      } else {
        reject(new EmbeddedServerError(`starting ${binary} failed: ${error.message}`));
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (/address already in use/i.test(output)) {
        reject(new EmbeddedServerError(`port ${options.port} on 127.0.0.1 is already in use: pass --port with a free port, or --server nats://127.0.0.1:${options.port} to use the NATS server listening there`));
      } else {
        reject(new EmbeddedServerError(`nats-server exited (code ${code}, signal ${signal}) before it was ready:\n${output.slice(-2000)}`));
      }
    });
  });
  await ready;
  // Keep reading stderr so the pipe never fills and blocks the server.
  child.stderr!.off("data", onData!);
  if (options.logFile) {
    const log = createWriteStream(options.logFile, { flags: "a" });
    log.write(output);
    child.stderr!.pipe(log);
  } else {
    child.stderr!.on("data", () => undefined);
  }
  child.removeAllListeners("exit");
  // A process that exits without stopping its server (a crash, a forced exit of
  // the test runner) takes the server with it instead of leaving it running.
  const killOnExit = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  process.once("exit", killOnExit);
  child.once("exit", () => process.off("exit", killOnExit));

  let stopping: Promise<void> | undefined;
  return {
    url: `nats://127.0.0.1:${options.port}`,
    port: options.port,
    pid: child.pid!,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill("SIGTERM");
        const timer = setTimeout(() => {
          // A kill may lose writes the server has acknowledged but not yet written out.
          process.stderr.write(`nats-server (pid ${child.pid}) did not exit within ${STOP_GRACE_MS} ms of SIGTERM: killing it\n`);
          child.kill("SIGKILL");
        }, STOP_GRACE_MS);
        await waitForExit(child);
        clearTimeout(timer);
      })();
      return stopping;
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await waitForExit(child);
    },
  };
}
