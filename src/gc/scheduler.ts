/**
 * When to collect garbage, as containerd's gc scheduler decides it
 * (`gc/scheduler/scheduler.go` at v1.7.9), written as a pure state machine. Time
 * arrives in events; the driver (`GcRunner`) arms a timer for `nextAt`, sends
 * `tick` when it fires, and runs a collection whenever the machine enters
 * `collecting`.
 *
 * One departure: containerd blocks writes during a collection and ignores
 * notifications stamped before its end. ctrmeta keeps accepting writes, so a
 * mutation after the collection's view (`seq > viewSeq`) counts towards the next
 * collection instead of being dropped. When the collection ends, the machine checks
 * those counts as if they had just arrived. A trigger or a reached deletion
 * threshold then schedules the next collection after the schedule delay, as
 * containerd does for notifications that waited for its collection to end.
 */
import { assign, setup } from "xstate";

export interface SchedulerConfig {
  /** Target fraction of time spent collecting, 0 to 0.5. Default 0.02. */
  pauseThreshold: number;
  /** Deletions that force a collection; 0 means never by count. Default 0. */
  deletionThreshold: number;
  /** Mutations after which the next tick collects; 0 means never. Default 100. */
  mutationThreshold: number;
  /** Delay before a collection scheduled "now", in ms. Default 0. */
  scheduleDelayMs: number;
  /** First collection after start, in ms; 0 means none. Default 100. */
  startupDelayMs: number;
}

export const DEFAULT_SCHEDULER_CONFIG: SchedulerConfig = {
  pauseThreshold: 0.02,
  deletionThreshold: 0,
  mutationThreshold: 100,
  scheduleDelayMs: 0,
  startupDelayMs: 100,
};

/** Clamp the configuration as containerd does. */
export function normalizeConfig(config: Partial<SchedulerConfig>): SchedulerConfig {
  const merged = { ...DEFAULT_SCHEDULER_CONFIG, ...config };
  return {
    pauseThreshold: Math.min(0.5, Math.max(0, merged.pauseThreshold)),
    deletionThreshold: merged.deletionThreshold,
    mutationThreshold: Math.max(0, merged.mutationThreshold),
    scheduleDelayMs: Math.max(0, merged.scheduleDelayMs),
    startupDelayMs: Math.max(0, merged.startupDelayMs),
  };
}

export interface SchedulerContext {
  config: SchedulerConfig;
  /** Milliseconds between ticks after a collection. */
  intervalMs: number;
  /** When the next tick is due (epoch ms), or undefined when none is armed. */
  nextAt: number | undefined;
  /** End of the last collection (epoch ms). */
  lastAt: number | undefined;
  /** Due time of the running or latest collection (epoch ms), which sets the retry delay after a failure. */
  dueAt: number | undefined;
  deletions: number;
  mutations: number;
  triggered: boolean;
  /** Mutations at or below this log sequence were covered by the last collection. */
  coveredSeq: number;
  /** Log sequence of the view the running collection marks. */
  runningViewSeq: number;
  collections: number;
  failures: number;
  /** Sum of successful collection durations, for the average. */
  totalMs: number;
  /** Counts seen while collecting that belong to the next collection. */
  pending: { deletions: number; mutations: number; triggered: boolean };
}

export type SchedulerEvent =
  /**
   * One mutation, or `count` of them of which `deletions` were dirty, up to log
   * sequence `seq`; the runner batches mutations that arrive together.
   */
  | { type: "mutation"; dirty: boolean; seq: number; now: number; count?: number; deletions?: number }
  | { type: "trigger"; now: number }
  | { type: "tick"; now: number }
  | { type: "started"; viewSeq: number }
  | { type: "collected"; now: number; durationMs: number }
  | { type: "failed"; now: number };

type Context = SchedulerContext;

function dirtyCount(event: { dirty: boolean; deletions?: number }): number {
  return event.deletions ?? (event.dirty ? 1 : 0);
}

/** Whether a notification makes a collection due now (containerd's condition). */
function dueNow(context: Context): boolean {
  const { config, deletions, mutations, triggered, nextAt } = context;
  if (triggered) return true;
  if (config.deletionThreshold > 0 && deletions >= config.deletionThreshold) return true;
  if (nextAt !== undefined) return false;
  return (config.deletionThreshold === 0 && deletions > 0) || (config.mutationThreshold > 0 && mutations >= config.mutationThreshold);
}

/** Schedule at now + scheduleDelay unless something is armed at or before that. */
function pullEarlier(context: Context, now: number): number | undefined {
  const at = now + context.config.scheduleDelayMs;
  return context.nextAt === undefined || context.nextAt > at ? at : context.nextAt;
}

/** Pull the next tick earlier when the counters make a collection due, as containerd checks after each notification. */
function scheduleIfDue(context: Context, now: number): Context {
  return dueNow(context) ? { ...context, nextAt: pullEarlier(context, now) } : context;
}

export const gcScheduler = setup({
  types: {
    context: {} as SchedulerContext,
    events: {} as SchedulerEvent,
    input: {} as { config?: Partial<SchedulerConfig>; now: number },
  },
  guards: {
    /** Nothing asked for a collection since the last one. */
    canSkip: ({ context }) =>
      !context.triggered &&
      context.lastAt !== undefined &&
      context.deletions === 0 &&
      (context.config.mutationThreshold === 0 || context.mutations < context.config.mutationThreshold),
  },
  actions: {
    count: assign(({ context, event }) => {
      if (event.type !== "mutation" && event.type !== "trigger") return {};
      if (event.type === "mutation" && event.seq <= context.coveredSeq) return {};
      const next = {
        ...context,
        deletions: context.deletions + (event.type === "mutation" ? dirtyCount(event) : 0),
        mutations: context.mutations + (event.type === "mutation" ? (event.count ?? 1) : 0),
        triggered: context.triggered || event.type === "trigger",
      };
      return scheduleIfDue(next, event.now);
    }),
    countPending: assign(({ context, event }) => {
      if (event.type === "trigger") return { pending: { ...context.pending, triggered: true } };
      if (event.type !== "mutation" || event.seq <= context.runningViewSeq) return {};
      return {
        pending: {
          deletions: context.pending.deletions + dirtyCount(event),
          mutations: context.pending.mutations + (event.count ?? 1),
          triggered: context.pending.triggered,
        },
      };
    }),
    rearm: assign(({ context, event }) => ({ nextAt: (event.type === "tick" ? event.now : 0) + context.intervalMs })),
    disarm: assign(({ context, event }) => ({
      dueAt: context.nextAt ?? (event.type === "tick" ? event.now : undefined),
      nextAt: undefined,
    })),
    recordView: assign(({ event }) => (event.type === "started" ? { runningViewSeq: event.viewSeq } : {})),
    succeed: assign(({ context, event }) => {
      if (event.type !== "collected") return {};
      const collections = context.collections + 1;
      const totalMs = context.totalMs + event.durationMs;
      const average = totalMs / collections;
      const intervalMs = context.config.pauseThreshold > 0 ? average / context.config.pauseThreshold - average : context.intervalMs;
      const { pending } = context;
      const next: SchedulerContext = {
        ...context,
        collections,
        totalMs,
        intervalMs,
        lastAt: event.now,
        nextAt: event.now + intervalMs,
        coveredSeq: context.runningViewSeq,
        deletions: pending.deletions,
        mutations: pending.mutations,
        triggered: pending.triggered,
        pending: { deletions: 0, mutations: 0, triggered: false },
      };
      return scheduleIfDue(next, event.now);
    }),
    fail: assign(({ context, event }) => {
      if (event.type !== "failed") return {};
      // containerd retries after the time from the previous collection's end to
      // this one's due time, plus 1 s. Before the first collection there is no
      // previous end (containerd v1.7.9 dereferences a nil pointer there), so the
      // retry waits 1 s.
      const { lastAt, dueAt, pending } = context;
      const gap = lastAt === undefined || dueAt === undefined ? 0 : Math.max(0, dueAt - lastAt);
      const next: SchedulerContext = {
        ...context,
        failures: context.failures + 1,
        lastAt: event.now,
        nextAt: event.now + gap + 1000,
        triggered: context.triggered || pending.triggered,
        deletions: context.deletions + pending.deletions,
        mutations: context.mutations + pending.mutations,
        pending: { deletions: 0, mutations: 0, triggered: false },
      };
      // Only notifications seen while collecting are checked again, as in
      // containerd, where a failure alone never pulls the retry earlier.
      const notified = pending.triggered || pending.mutations > 0;
      return notified ? scheduleIfDue(next, event.now) : next;
    }),
  },
}).createMachine({
  id: "gcScheduler",
  context: ({ input }) => {
    const config = normalizeConfig(input.config ?? {});
    return {
      config,
      intervalMs: 1000,
      nextAt: config.startupDelayMs > 0 ? input.now + config.startupDelayMs : undefined,
      lastAt: undefined,
      dueAt: undefined,
      deletions: 0,
      mutations: 0,
      triggered: false,
      coveredSeq: 0,
      runningViewSeq: 0,
      collections: 0,
      failures: 0,
      totalMs: 0,
      pending: { deletions: 0, mutations: 0, triggered: false },
    };
  },
  initial: "waiting",
  states: {
    waiting: {
      on: {
        mutation: { actions: "count" },
        trigger: { actions: "count" },
        tick: [{ guard: "canSkip", actions: "rearm" }, { target: "collecting", actions: "disarm" }],
      },
    },
    collecting: {
      on: {
        started: { actions: "recordView" },
        mutation: { actions: "countPending" },
        trigger: { actions: "countPending" },
        collected: { target: "waiting", actions: "succeed" },
        failed: { target: "waiting", actions: "fail" },
      },
    },
  },
});
