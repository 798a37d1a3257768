/**
 * Parent side of bench/worker.ts: start a child process hosting a ctrmeta instance
 * or the raw services, and stop it. With BENCH_CPU_PROF=DIR the child writes a
 * V8 CPU profile into DIR when it exits.
 */
import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { InstanceOptions } from "../../src/service.js";

/** Instance options that can cross the process boundary. */
export type WorkerInstanceOptions = Omit<InstanceOptions, "servers" | "logger" | "clock" | "authenticator">;

export type HostRequest =
  | { type: "instance"; servers: string; options: WorkerInstanceOptions }
  | { type: "raw"; servers: string; echoReplyBase64: string }
  | { type: "echo"; replyBase64: string }
  | { type: "memory" }
  | { type: "stop" };

export type HostReply = { type: "ok" } | { type: "memory"; rss: number } | { type: "error"; message: string };

/** Worker processes still running; one exit listener of the runner kills them all. */
const running = new Set<ChildProcess>();
function killRunning(): void {
  for (const child of running) child.kill("SIGKILL");
}

export class Host {
  private constructor(
    private readonly child: ChildProcess,
    readonly label: string,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }

  private static spawn(label: string): Host {
    const profileDir = process.env.BENCH_CPU_PROF;
    const execArgv = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir, "--cpu-prof-name", `${label}-${Date.now()}.cpuprofile`] : [];
    const child = fork(fileURLToPath(new URL("../worker.js", import.meta.url)), [], { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"] });
    // A runner that exits without stopping its workers takes them with it.
    if (running.size === 0) process.once("exit", killRunning);
    running.add(child);
    child.once("exit", () => {
      running.delete(child);
      if (running.size === 0) process.off("exit", killRunning);
    });
    return new Host(child, label);
  }

  /** A child running one ctrmeta instance connected to `servers`. */
  static async instance(servers: string, options: WorkerInstanceOptions = {}, label = "ctrmeta"): Promise<Host> {
    const host = Host.spawn(label);
    await host.request({ type: "instance", servers, options });
    return host;
  }

  /** A child running the raw command service and the raw echo, which replies with `echoReply`. */
  static async raw(servers: string, echoReply: Uint8Array): Promise<Host> {
    const host = Host.spawn("raw");
    await host.request({ type: "raw", servers, echoReplyBase64: Buffer.from(echoReply).toString("base64") });
    return host;
  }

  /** Make the raw echo of this child reply with `reply`. */
  async setEchoReply(reply: Uint8Array): Promise<void> {
    await this.request({ type: "echo", replyBase64: Buffer.from(reply).toString("base64") });
  }

  request(request: HostRequest): Promise<HostReply> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`benchmark worker ${this.label} exited (code ${code}) before it replied to ${request.type}`));
      this.child.once("exit", onExit);
      this.child.once("message", (reply: HostReply) => {
        this.child.off("exit", onExit);
        if (reply.type === "error") reject(new Error(`benchmark worker ${this.label}: ${reply.message}`));
        else resolve(reply);
      });
      this.child.send(request);
    });
  }

  /** Stop what the child hosts and wait for it to exit; SIGKILL after 30 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 30_000);
    try {
      await this.request({ type: "stop" });
    } catch {
      this.child.kill("SIGKILL");
    }
    await exited;
    clearTimeout(timer);
  }
}
