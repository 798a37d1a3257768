/**
 * Feeds the projection from the log with an ordered JetStream consumer, starting
 * after the projection's current position.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { Layout } from "../nats/subjects.js";
import type { Projection } from "./projection.js";

/** Messages asked for per pull; larger batches replay faster. */
const BATCH = 1000;

export interface ProjectorLog {
  error(fields: Record<string, unknown>, message: string): void;
}

export class Projector {
  private running: Promise<void> | undefined;
  private stopRequested = false;
  private stopConsumer: (() => Promise<void>) | undefined;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: Layout,
    private readonly projection: Projection,
    private readonly log: ProjectorLog,
  ) {}

  /** Start consuming; resolves once the view has applied everything in the log at call time. */
  async start(catchUpTimeoutMs = 600_000): Promise<void> {
    const info = await this.jsm.streams.info(this.layout.logStream);
    const target = info.state.last_seq;
    const consumer = await this.js.consumers.get(this.layout.logStream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: this.projection.seq + 1,
    });
    const messages = await consumer.consume({ max_messages: BATCH });
    this.stopConsumer = async () => {
      await messages.close();
    };
    let failed: (error: unknown) => void = () => undefined;
    const failure = new Promise<never>((_resolve, reject) => {
      failed = reject;
    });
    failure.catch(() => undefined);
    this.running = (async () => {
      for await (const message of messages) {
        this.projection.apply(message.seq, message.subject, message.data);
        if (this.stopRequested) break;
      }
    })().catch((error: unknown) => {
      if (this.stopRequested) return;
      this.log.error({ err: error, seq: this.projection.seq }, "projection consumer stopped");
      failed(error);
    });
    // A consumer that stops while catching up fails the start instead of hanging it.
    await Promise.race([this.projection.waitFor(target, catchUpTimeoutMs), failure]);
  }

  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.stopConsumer?.();
    await this.running;
  }
}
