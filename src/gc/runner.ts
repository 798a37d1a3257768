/**
 * Drives garbage collection on the leader instance: a durable JetStream consumer
 * of the log feeds every mutation (deletions marked dirty) to the scheduler
 * machine, a timer delivers its ticks, and each time the machine enters
 * `collecting` one collection runs while commands keep being served.
 */
import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { createActor, type Actor } from "xstate";
import type { CommandHandler } from "../commands/handler.js";
import { Unavailable, UnknownError } from "../domain/errors.js";
import type { Clock } from "../domain/time.js";
import { EVENT_TYPE_HEADER } from "../nats/event-store.js";
import type { Projection } from "../projections/projection.js";
import { collectGarbage, type CollectionStats } from "./collector.js";
import { gcScheduler, type SchedulerConfig, type SchedulerEvent } from "./scheduler.js";

/** How often the durable consumer's progress is checked, in ms. */
const WATCHDOG_MS = 5000;

/** Longest time a counted mutation waits before the scheduler sees it, in ms. */
const BATCH_MS = 20;
/** Maximum number of events the collector's consumer receives between two acknowledgements. */
const ACK_EVERY = 256;
/** Maximum time a received event waits for its acknowledgement, in ms. */
const ACK_DELAY_MS = 100;

/** Event types that make the database dirty in containerd's accounting. */
export const DIRTY_EVENT_TYPES = new Set([
  "container.deleted",
  "image.deleted",
  "content.deleted",
  "lease.deleted",
  "lease.resource.deleted",
  "snapshot.removed",
]);

export interface GcRunnerLog {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface GcRunnerDeps {
  js: JetStreamClient;
  logStream: string;
  consumerName: string;
  projection: Projection;
  commands: CommandHandler;
  clock: Clock;
  log: GcRunnerLog;
  config: Partial<SchedulerConfig>;
}

interface Waiter {
  resolve: (stats: CollectionStats) => void;
  reject: (error: Error) => void;
}

export interface GcStatus {
  state: string;
  config: SchedulerConfig;
  deletions: number;
  mutations: number;
  triggered: boolean;
  intervalMs: number;
  nextAt?: string;
  lastAt?: string;
  collections: number;
  failures: number;
  waiting: number;
  lastStats?: CollectionStats;
  lastError?: string;
}

export class GcRunner {
  /**
   * The scheduler machine. Its actions only assign context, so the actor runs no
   * side effects. xstate's pure `transition` would build a new actor scope, and run
   * the machine's initial context again, on every call: 16 µs a transition instead
   * of 1.3 µs (`scheduler-wake` in bench/probes.ts). Once collections are quick, the
   * machine ticks every few milliseconds.
   */
  private readonly scheduler: Actor<typeof gcScheduler>;
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private timerAt: number | undefined;
  private messages: ConsumerMessages | undefined;
  private consuming: Promise<void> | undefined;
  private collecting: Promise<void> | undefined;
  /** Waiters for a collection that starts after they asked. */
  private waiting: Waiter[] = [];
  /** Highest log sequence fed to the scheduler; a collection marks at least this far. */
  private fedSeq = 0;
  private batch = { count: 0, deletions: 0 };
  private watchdog: NodeJS.Timeout | undefined;
  private lastDelivered = -1;
  private batchTimer: NodeJS.Timeout | undefined;
  private lastStats: CollectionStats | undefined;
  private lastError: string | undefined;
  private stopped = false;

  constructor(private readonly deps: GcRunnerDeps) {
    this.scheduler = createActor(gcScheduler, { input: { config: deps.config, now: Date.now() } });
    this.scheduler.start();
  }

  private get snapshot() {
    return this.scheduler.getSnapshot();
  }

  async start(): Promise<void> {
    this.consuming = this.consume();
    this.watchdog = setInterval(() => void this.checkProgress(), WATCHDOG_MS);
    this.watchdog.unref();
    this.arm();
  }

  /** Replace a consumer that has messages waiting but delivers none (seen after a cluster restart). */
  private async checkProgress(): Promise<void> {
    try {
      const info = await (await this.deps.js.consumers.get(this.deps.logStream, this.deps.consumerName)).info();
      const delivered = info.delivered.stream_seq;
      if (info.num_pending > 0 && delivered === this.lastDelivered) {
        this.deps.log.error({ delivered, pending: info.num_pending }, "gc consumer stalled, starting a new one");
        await this.messages?.close().catch(() => undefined);
      }
      this.lastDelivered = delivered;
    } catch {
      // The log cannot be reached; the consumer cannot either.
    }
  }

  /** Count the log's mutations; a consumer that fails or ends is replaced after a pause. */
  private async consume(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        const consumer = await this.deps.js.consumers.get(this.deps.logStream, this.deps.consumerName);
        this.messages = await consumer.consume({ max_messages: 1000 });
        // stop() may have run while the consumer was being opened, finding nothing to
        // close. Closing queues an end that the loop below reads, so it is not awaited.
        if (this.stopped) void this.messages.close().catch(() => undefined);
        // Each acknowledgement covers every earlier event, so the latest one is
        // acknowledged once per batch of received events, at least once per
        // ACK_EVERY, and at most ACK_DELAY_MS after it arrived. The delay is needed
        // because nats.js 3.4 may count an internal callback in getPending().
        const batch = { latest: undefined as JsMsg | undefined, count: 0, timer: undefined as NodeJS.Timeout | undefined };
        const acknowledge = () => {
          clearTimeout(batch.timer);
          batch.timer = undefined;
          batch.latest?.ack();
          batch.latest = undefined;
          batch.count = 0;
        };
        try {
          for await (const message of this.messages) {
            const type = message.headers?.get(EVENT_TYPE_HEADER) ?? "";
            if (type !== "gc.collected") this.feed(message.seq, DIRTY_EVENT_TYPES.has(type));
            batch.latest = message;
            if (++batch.count >= ACK_EVERY || this.messages.getPending() === 0) acknowledge();
            else batch.timer ??= setTimeout(acknowledge, ACK_DELAY_MS);
            failures = 0;
          }
        } finally {
          acknowledge();
        }
      } catch (error) {
        if (this.stopped) return;
        failures++;
        this.deps.log.error({ err: error, failures }, "gc consumer failed, starting a new one");
      }
      if (this.stopped) return;
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** Math.min(failures, 6))).unref());
    }
  }

  /**
   * Count one mutation of the log. Mutations reach the scheduler in batches at
   * most every BATCH_MS: the log may carry thousands of events a second, and
   * each would be a transition of the machine.
   */
  feed(seq: number, dirty: boolean): void {
    this.fedSeq = Math.max(this.fedSeq, seq);
    this.batch.count++;
    if (dirty) this.batch.deletions++;
    this.batchTimer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  private flush(): void {
    clearTimeout(this.batchTimer);
    this.batchTimer = undefined;
    const { count, deletions } = this.batch;
    if (count === 0) return;
    this.batch = { count: 0, deletions: 0 };
    this.send({ type: "mutation", dirty: deletions > 0, count, deletions, seq: this.fedSeq, now: Date.now() });
  }

  /** Ask for a collection and wait for one that starts after this call (containerd's ScheduleAndWait). */
  trigger(): Promise<CollectionStats> {
    if (this.stopped) return Promise.reject(new Unavailable("garbage collector stopped"));
    const done = new Promise<CollectionStats>((resolve, reject) => this.waiting.push({ resolve, reject }));
    this.flush();
    this.send({ type: "trigger", now: Date.now() });
    return done;
  }

  status(): GcStatus {
    const context = this.snapshot.context;
    const status: GcStatus = {
      state: String(this.snapshot.value),
      config: context.config,
      deletions: context.deletions,
      mutations: context.mutations,
      triggered: context.triggered,
      intervalMs: context.intervalMs,
      collections: context.collections,
      failures: context.failures,
      waiting: this.waiting.length,
    };
    if (context.nextAt !== undefined) status.nextAt = new Date(context.nextAt).toISOString();
    if (context.lastAt !== undefined) status.lastAt = new Date(context.lastAt).toISOString();
    if (this.lastStats) status.lastStats = this.lastStats;
    if (this.lastError) status.lastError = this.lastError;
    return status;
  }

  private send(event: SchedulerEvent): void {
    if (this.stopped) return;
    const before = this.snapshot.value;
    this.scheduler.send(event);
    if (before !== "collecting" && this.snapshot.value === "collecting") this.collecting = this.collect();
    this.arm();
  }

  /** Keep one timer at the machine's next tick. */
  private arm(): void {
    const at = this.snapshot.value === "waiting" ? this.snapshot.context.nextAt : undefined;
    if (at === this.timerAt) return;
    this.clearTimer();
    this.timerAt = at;
    if (at === undefined || this.stopped) return;
    const tick = () => {
      this.timerAt = undefined;
      this.send({ type: "tick", now: Date.now() });
    };
    const delay = at - Date.now();
    // A tick due now (a trigger with no schedule delay, as a synchronous delete
    // sends) runs after the pending I/O: setTimeout would wait at least 1 ms.
    if (delay <= 0) {
      this.timer = setImmediate(tick);
    } else {
      this.timer = setTimeout(tick, delay);
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer === undefined) return;
    // Only a Timeout can be refreshed; the other kind is an Immediate.
    if ("refresh" in this.timer) clearTimeout(this.timer);
    else clearImmediate(this.timer);
    this.timer = undefined;
  }

  private async collect(): Promise<void> {
    // Waiters that asked before this collection started are answered by it.
    const answered = this.waiting;
    this.waiting = [];
    try {
      await this.deps.projection.waitFor(this.fedSeq, 30_000);
      this.send({ type: "started", viewSeq: this.deps.projection.seq });
      const stats = await collectGarbage(this.deps.projection, this.deps.commands, this.deps.clock);
      this.lastStats = stats;
      this.lastError = undefined;
      this.deps.log.info({ ...stats.removed, skipped: stats.skipped, ms: Math.round(stats.durationMs), seq: stats.seq }, "garbage collected");
      this.send({ type: "collected", now: Date.now(), durationMs: stats.durationMs });
      for (const waiter of answered) waiter.resolve(stats);
    } catch (error) {
      this.lastError = (error as Error).message;
      this.deps.log.error({ err: error }, "garbage collection failed");
      this.send({ type: "failed", now: Date.now() });
      const failure = new UnknownError(`gc failed: ${(error as Error).message}`);
      for (const waiter of answered) waiter.reject(failure);
    }
  }

  /** Stop consuming and scheduling; pending waiters fail with Unavailable. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.clearTimer();
    clearTimeout(this.batchTimer);
    clearInterval(this.watchdog);
    await this.collecting?.catch(() => undefined);
    this.stopped = true;
    await this.messages?.close().catch(() => undefined);
    await this.consuming;
    this.scheduler.stop();
    const error = new Unavailable("garbage collector stopped: this instance is no longer the leader");
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}
