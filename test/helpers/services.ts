/**
 * ctrmeta instances as separate processes (`ctrmeta serve --server ...`), so that
 * tests can kill one with SIGKILL as a crash would, and start it again.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export class ServiceProcess {
  private child: ChildProcess | undefined;
  /** Standard error of every run, for failure messages. */
  stderr = "";
  /** Log lines (standard output) of every run, the last 50,000 characters. */
  logs = "";

  constructor(
    private readonly servers: string,
    private readonly name: string,
    private readonly extraArgs: string[] = [],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.running) return;
    const child = spawn(process.execPath, [CLI, "serve", "--server", this.servers, "--log-level", "warn", ...this.extraArgs], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CTRMETA_INSTANCE: this.name },
    });
    child.stdout!.on("data", (chunk: Buffer) => {
      this.logs = (this.logs + chunk.toString("utf8")).slice(-50_000);
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-20_000);
    });
    this.child = child;
  }

  /** Kill at once, as a crash would. */
  async kill(): Promise<void> {
    await this.signal("SIGKILL");
  }

  /** Ask to stop, as a service manager would. */
  async stop(): Promise<number | null> {
    return this.signal("SIGTERM");
  }

  private async signal(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || !this.running) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    child.kill(signal);
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }
}
