/**
 * Feeds the projection from the log with an ordered JetStream consumer, starting
 * after the projection's current position. When the consumer fails or ends (a
 * server restart, a lost connection), a new one starts after the last applied
 * event, with a growing pause between attempts.
 */
import { DeliverPolicy, type ConsumerMessages, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { FutureEventError } from "../events/upcast.js";
import type { Layout } from "../nats/subjects.js";
import type { Projection } from "./projection.js";

/** Messages asked for per pull; larger batches replay faster. */
const BATCH = 1000;

/**
 * How often the view's progress is checked against the log, in ms. A consumer
 * that stops delivering without failing (seen after a whole-cluster restart) is
 * replaced when the view is behind the log and did not move since the last check.
 */
const WATCHDOG_MS = 3000;

export interface ProjectorLog {
  error(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export class Projector {
  private running: Promise<void> | undefined;
  private stopRequested = false;
  private messages: ConsumerMessages | undefined;
  private pause: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  /** The view's position at the previous progress check. */
  private lastChecked = -1;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: Layout,
    private readonly projection: Projection,
    private readonly log: ProjectorLog,
  ) {}

  /**
   * Start consuming; resolves once the view has applied everything in the log at
   * call time, and rejects if the log contains an event this version cannot read.
   */
  async start(catchUpTimeoutMs = 600_000): Promise<void> {
    const target = (await this.jsm.streams.info(this.layout.logStream)).state.last_seq;
    let fatal: (error: unknown) => void = () => undefined;
    const failure = new Promise<never>((_resolve, reject) => {
      fatal = reject;
    });
    failure.catch(() => undefined);
    this.running = this.consume(fatal);
    this.watchdog = setInterval(() => void this.checkProgress(), WATCHDOG_MS);
    this.watchdog.unref();
    await Promise.race([this.projection.waitFor(target, catchUpTimeoutMs), failure]);
  }

  private async checkProgress(): Promise<void> {
    const seen = this.projection.seq;
    let last: number;
    try {
      last = (await this.jsm.streams.info(this.layout.logStream)).state.last_seq;
    } catch {
      return; // The log cannot be reached; the consumer cannot either.
    }
    if (last > seen && this.projection.seq === seen && seen === this.lastChecked) {
      this.log.warn({ seq: seen, last }, "projection consumer stalled, starting a new one");
      await this.messages?.close().catch(() => undefined);
    }
    this.lastChecked = this.projection.seq;
  }

  private async consume(fatal: (error: unknown) => void): Promise<void> {
    let failures = 0;
    while (!this.stopRequested) {
      try {
        const consumer = await this.js.consumers.get(this.layout.logStream, {
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: this.projection.seq + 1,
        });
        this.messages = await consumer.consume({ max_messages: BATCH });
        // stop() may have run while the consumer was being opened, finding nothing to
        // close. Closing queues an end that the loop below reads, so it is not awaited.
        if (this.stopRequested) void this.messages.close().catch(() => undefined);
        for await (const message of this.messages) {
          const divergences = this.projection.divergences;
          this.projection.apply(message.seq, message.subject, message.data);
          if (this.projection.divergences > divergences) {
            this.log.error(
              { seq: message.seq, subject: message.subject, lastOnSubject: this.projection.subjectSeq(message.subject) },
              "the log changed under the view: the message at this sequence is not the event the view applied; restart the instance to rebuild its view",
            );
          }
          failures = 0;
          if (this.stopRequested) break;
        }
        if (this.stopRequested) return;
        this.log.warn({ seq: this.projection.seq }, "projection consumer ended, starting a new one");
      } catch (error) {
        if (this.stopRequested) return;
        if (error instanceof FutureEventError) {
          // Skipping the event would build a wrong view; the instance must stop.
          this.log.error({ err: error, seq: this.projection.seq }, "projection stopped at an event it cannot read");
          fatal(error);
          return;
        }
        failures++;
        this.log.warn({ err: error, seq: this.projection.seq, failures }, "projection consumer failed, starting a new one");
      }
      await this.sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.pause = { timer: setTimeout(resolve, ms), resolve };
    });
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    clearInterval(this.watchdog);
    if (this.pause) {
      clearTimeout(this.pause.timer);
      this.pause.resolve();
    }
    await this.messages?.close();
    await this.running;
  }
}
