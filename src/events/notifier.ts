/**
 * Publishes containerd-shaped notifications derived from the log to the topics
 * stream, so consumers can subscribe live (core NATS) or durably (JetStream).
 *
 * Each notification carries the log sequence of its event in a header. On start the
 * notifier reads the last published one and skips everything up to it; message ids
 * `<seq>-<index>` let JetStream drop a repeat within its duplicate window. So a
 * restart neither loses nor (within the window) repeats a notification.
 */
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { encodePayload } from "../api/wire.js";
import type { Layout } from "../nats/subjects.js";
import type { AppliedEvent, Projection } from "../projections/projection.js";

export const SOURCE_SEQ_HEADER = "Ctrmeta-Source-Seq";
export const TOPIC_HEADER = "Ctrmeta-Topic";
export const NAMESPACE_HEADER = "Ctrmeta-Namespace";

/** The JSON body of a notification, shaped like containerd's events Envelope. */
export interface NotificationEnvelope {
  timestamp: string;
  namespace: string;
  topic: string;
  event: { typeUrl: string; value: unknown };
}

interface Pending {
  seq: number;
  index: number;
  subject: string;
  body: NotificationEnvelope;
}

export interface NotifierLog {
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Publishes in order with this many acknowledgements outstanding at most, and lets
 * the event loop serve other work between windows: a burst of notifications (a
 * large sweep makes one per removal) must not starve command handling.
 */
const WINDOW = 64;

export class Notifier {
  private published = 0;
  private readonly queue: Pending[] = [];
  private draining: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  private stopped = false;
  private readonly idleWaiters: Array<() => void> = [];

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: Layout,
    private readonly log: NotifierLog,
  ) {}

  /** The source sequence of the last published notification. */
  get position(): number {
    return this.published;
  }

  /** Resume after the last notification in the stream and follow the projection. */
  async start(projection: Projection): Promise<void> {
    this.published = await this.lastPublishedSeq();
    this.unsubscribe = projection.onApplied((applied) => this.enqueue(applied));
  }

  private async lastPublishedSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.layout.topicStream);
    if (info.state.last_seq === 0) return 0;
    const last = await this.jsm.streams.getMessage(this.layout.topicStream, { seq: info.state.last_seq });
    return Number(last?.header?.get(SOURCE_SEQ_HEADER) ?? 0) || 0;
  }

  private enqueue(applied: AppliedEvent): void {
    if (applied.seq <= this.published || applied.verdict.rejected || !applied.envelope) return;
    const { envelope, verdict } = applied;
    verdict.notifications.forEach((notification, index) => {
      const namespace = notification.namespace ?? envelope.ns;
      this.queue.push({
        seq: applied.seq,
        index,
        subject: this.layout.topicSubject(namespace, notification.topic),
        body: {
          timestamp: envelope.time,
          namespace,
          topic: notification.topic,
          event: { typeUrl: notification.type, value: encodePayload(notification.payload) },
        },
      });
    });
    this.kick();
  }

  /** Start draining unless a drain is running; a drain that ends with work left starts another. */
  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.queue.length > 0 && !this.stopped) this.kick();
      else for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.stopped) {
      const batch = this.queue.splice(0, WINDOW);
      const acks = batch.map((item) => this.publish(item));
      await Promise.all(acks);
      this.published = Math.max(this.published, batch[batch.length - 1]!.seq);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async publish(item: Pending): Promise<void> {
    const headers = natsHeaders();
    headers.set(SOURCE_SEQ_HEADER, String(item.seq));
    headers.set(TOPIC_HEADER, item.body.topic);
    headers.set(NAMESPACE_HEADER, encodeURIComponent(item.body.namespace));
    const data = new TextEncoder().encode(JSON.stringify(item.body));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.js.publish(item.subject, data, { headers, msgID: `${item.seq}-${item.index}` });
        return;
      } catch (error) {
        if (this.stopped) return;
        this.log.error({ err: error, seq: item.seq, topic: item.body.topic, attempt }, "publishing notification failed, retrying");
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * attempt)));
      }
    }
  }

  /** Resolve once everything queued so far is published. */
  async idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stop following the view, publish what is queued (for at most `graceMs`), then
   * stop. Anything left is published by the next notifier, which resumes after the
   * last notification in the stream.
   */
  async stop(graceMs = 5000): Promise<void> {
    this.unsubscribe?.();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([this.idle(), grace]);
    clearTimeout(timer);
    this.stopped = true;
  }
}
