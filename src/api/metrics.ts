/**
 * Request counters of one instance, by method and outcome, for `ctrmeta status`
 * and the Prometheus endpoint.
 */

export interface MethodCounters {
  /** Requests per outcome: `ok` or an error kind. */
  outcomes: Record<string, number>;
  /** Sum of handling times, in seconds. */
  seconds: number;
}

export class RequestMetrics {
  private readonly methods = new Map<string, MethodCounters>();

  record(method: string, outcome: string, seconds: number): void {
    let counters = this.methods.get(method);
    if (!counters) this.methods.set(method, (counters = { outcomes: {}, seconds: 0 }));
    counters.outcomes[outcome] = (counters.outcomes[outcome] ?? 0) + 1;
    counters.seconds += seconds;
  }

  snapshot(): Record<string, MethodCounters> {
    const out: Record<string, MethodCounters> = {};
    for (const [method, counters] of this.methods) out[method] = { outcomes: { ...counters.outcomes }, seconds: counters.seconds };
    return out;
  }
}
