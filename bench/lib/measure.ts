/**
 * Load generation and latency statistics for the benchmarks. Latencies are in
 * milliseconds, rates in operations per second.
 */

/** Latency summary of one measured run. */
export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  mean: number;
}

export interface LoadResult extends LatencySummary {
  seconds: number;
  /** Completed operations per second. */
  rate: number;
}

/** Return the value at fraction `p` (0..1) of an ascending array, by nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[rank]!;
}

export function summarize(latencies: readonly number[]): LatencySummary {
  const sorted = [...latencies].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return { count: sorted.length, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), mean: sorted.length ? total / sorted.length : Number.NaN };
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

export interface LoadOptions {
  /** Operations in flight at once. */
  concurrency: number;
  /** Operations to complete, counting the warm-up ones. */
  count: number;
  /** Leading operations left out of the statistics. */
  warmup?: number;
  /** Operation number `index`, from 0. */
  operation: (index: number) => Promise<unknown>;
}

/**
 * Run `count` operations with `concurrency` workers and return the rate and the
 * latencies of the operations after the warm-up. The rate covers the time from
 * the first measured operation's start to the last one's end.
 */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const warmup = options.warmup ?? 0;
  const latencies: number[] = [];
  let next = 0;
  let measuredStart = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const index = next++;
      if (index >= options.count) return;
      const started = performance.now();
      if (index === warmup) measuredStart = started;
      await options.operation(index);
      if (index >= warmup) latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  const seconds = (performance.now() - measuredStart) / 1000;
  const summary = summarize(latencies);
  return { ...summary, seconds, rate: summary.count / seconds };
}

/** Time one asynchronous action in milliseconds. */
export async function timed<T>(action: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await action();
  return { ms: performance.now() - started, value };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
