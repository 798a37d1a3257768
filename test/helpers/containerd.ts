/**
 * A private containerd for comparisons: Debian's containerd with its own root, state
 * and sockets under a directory the caller owns, the CRI and every plugin that runs
 * or mounts containers disabled, and stopped by its PID. Used by the ctr tests and
 * by the benchmarks.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Find an executable on PATH (or in /usr/sbin, /usr/bin) and return its absolute path. */
export function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/bin"].filter((dir) => dir !== "");
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

/** Plugins that would run, mount or monitor containers, or listen beyond the socket. */
export const DISABLED_PLUGINS = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.restart",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.monitor.v1.cgroups",
  "io.containerd.runtime.v1.linux",
  "io.containerd.runtime.v2.task",
  "io.containerd.service.v1.tasks-service",
  "io.containerd.grpc.v1.tasks",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.overlayfs",
  "io.containerd.snapshotter.v1.zfs",
];

/** Time containerd may take to serve its first request. */
const START_TIMEOUT_MS = 20_000;

export class ContainerdProcess {
  private child: ChildProcess | undefined;
  /** The end of containerd's standard error, for failure messages. */
  log = "";

  constructor(readonly dir: string) {}

  get socket(): string {
    return join(this.dir, "containerd.sock");
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Start containerd and wait until `ready` resolves, which throws while containerd cannot serve requests yet. */
  async start(ready: () => Promise<void>): Promise<void> {
    const binary = findExecutable("containerd");
    if (!binary) throw new Error("containerd is not on PATH (install Debian's containerd package)");
    const config = [
      "version = 2",
      `root = ${JSON.stringify(join(this.dir, "root"))}`,
      `state = ${JSON.stringify(join(this.dir, "state"))}`,
      `disabled_plugins = ${JSON.stringify(DISABLED_PLUGINS)}`,
      "[grpc]",
      `  address = ${JSON.stringify(this.socket)}`,
      "[ttrpc]",
      `  address = ${JSON.stringify(`${this.socket}.ttrpc`)}`,
      "[debug]",
      '  address = ""',
      "[metrics]",
      '  address = ""',
    ].join("\n");
    writeFileSync(join(this.dir, "config.toml"), `${config}\n`);
    const child = spawn(binary, ["--config", join(this.dir, "config.toml")], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (chunk: Buffer) => {
      this.log = (this.log + chunk.toString("utf8")).slice(-20_000);
    });
    this.child = child;
    // A process that exits without stopping containerd takes it with it.
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    child.once("exit", () => process.off("exit", killOnExit));
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      try {
        await ready();
        return;
      } catch (error) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`containerd did not start: ${(error as Error).message}\n${this.log}`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Stop containerd by its PID: SIGTERM, then SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
}
