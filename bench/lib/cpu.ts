/**
 * CPU time of the processes in a comparison, read from /proc/<pid>/stat (Linux),
 * to show which process limits a run: the load generator, the service, NATS or
 * containerd.
 */
import { readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100;

/** User plus system CPU seconds of a process so far; NaN when it cannot be read. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/** Measures CPU seconds of named processes between `start()` and `stop()`. */
export class CpuMeter {
  private before = new Map<string, number>();
  private startedAt = 0;

  constructor(private readonly pids: Record<string, number | undefined>) {}

  start(): void {
    this.startedAt = performance.now();
    this.before = new Map(Object.entries(this.pids).map(([name, pid]) => [name, pid === undefined ? Number.NaN : cpuSeconds(pid)]));
  }

  /** Stop the meter and format each process's share of one core, e.g. `bench 0.95 ctrmeta 0.62`. */
  stop(): string {
    const seconds = (performance.now() - this.startedAt) / 1000;
    return Object.entries(this.pids)
      .filter(([, pid]) => pid !== undefined)
      .map(([name, pid]) => `${name} ${((cpuSeconds(pid!) - this.before.get(name)!) / seconds).toFixed(2)}`)
      .join(", ");
  }
}
