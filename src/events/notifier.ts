/**
 * Publishes containerd-shaped notifications derived from the log to the topics
 * stream, so consumers can subscribe live (core NATS) or durably (JetStream).
 *
 * Each notification carries the log sequence of its event in a header, and the
 * message id `<seq>-<index>`, its place among its event's notifications (a
 * collection's event has one per removal). On start the notifier reads the last
 * published one and skips everything up to it, so a notifier stopped halfway
 * through an event resumes with the event's next notification. JetStream drops a
 * repeat of a message id within its duplicate window. So a restart neither loses
 * nor (within the window) repeats a notification.
 */
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { encodePayload } from "../api/wire.js";
import type { Layout } from "../nats/subjects.js";
import type { Notification } from "../domain/decision.js";
import type { AppliedEvent, Projection } from "../projections/projection.js";

export const SOURCE_SEQ_HEADER = "Ctrmeta-Source-Seq";
export const TOPIC_HEADER = "Ctrmeta-Topic";
export const NAMESPACE_HEADER = "Ctrmeta-Namespace";
/** JetStream's header for a message's id, which it uses to drop repeats. */
const MSG_ID_HEADER = "Nats-Msg-Id";

/** The JSON body of a notification, shaped like containerd's events Envelope. */
export interface NotificationEnvelope {
  timestamp: string;
  namespace: string;
  topic: string;
  event: { typeUrl: string; value: unknown };
}

/** A notification waiting to be published; its subject and body are built when it is. */
interface Pending {
  seq: number;
  index: number;
  time: string;
  namespace: string;
  notification: Notification;
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

/** A notification's place in the log: its event's sequence, then its index among the event's notifications. */
export interface NotificationPosition {
  seq: number;
  index: number;
}

/** Return the position in a `<seq>-<index>` message id, or undefined for any other id. */
export function parseNotificationId(id: string | undefined): NotificationPosition | undefined {
  const match = /^([1-9][0-9]*)-(0|[1-9][0-9]*)$/.exec(id ?? "");
  if (!match) return undefined;
  const seq = Number(match[1]);
  const index = Number(match[2]);
  return Number.isSafeInteger(seq) && Number.isSafeInteger(index) ? { seq, index } : undefined;
}

export class Notifier {
  /** The last notification known to be in the stream; `index` -1 when all of `seq`'s are. */
  private published: NotificationPosition = { seq: 0, index: -1 };
  /** Notifications not yet published: `queue[head]` onwards. */
  private queue: Pending[] = [];
  private head = 0;
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
    return this.published.seq;
  }

  /**
   * Read where the stream ends, to resume after its last notification. Call it
   * before the view catches up with the log, then `follow` the view: from then on
   * every event the view applies after that position is published.
   */
  async resume(): Promise<NotificationPosition> {
    this.published = await this.lastPublished();
    return { ...this.published };
  }

  /** Publish the notifications of every event the view applies from now on, skipping those the stream has. */
  follow(projection: Projection): void {
    this.unsubscribe = projection.onApplied((applied) => this.enqueue(applied));
  }

  /**
   * Read the position of the stream's last message, whose message id gives the
   * index. A message without such an id (one published by hand, say) counts as the
   * last of its event.
   */
  private async lastPublished(): Promise<NotificationPosition> {
    const info = await this.jsm.streams.info(this.layout.topicStream);
    if (info.state.last_seq === 0) return { seq: 0, index: -1 };
    const last = await this.jsm.streams.getMessage(this.layout.topicStream, { seq: info.state.last_seq });
    const seq = Number(last?.header?.get(SOURCE_SEQ_HEADER) ?? 0) || 0;
    const fromId = parseNotificationId(last?.header?.get(MSG_ID_HEADER));
    if (fromId && fromId.seq === seq) return fromId;
    return { seq, index: Number.MAX_SAFE_INTEGER };
  }

  private enqueue(applied: AppliedEvent): void {
    if (applied.seq < this.published.seq || applied.verdict.rejected || !applied.envelope) return;
    // In the event the stream ended in, publish only the notifications after the last one published.
    const first = applied.seq === this.published.seq ? this.published.index + 1 : 0;
    const { envelope, verdict } = applied;
    for (let index = first; index < verdict.notifications.length; index++) {
      const notification = verdict.notifications[index]!;
      this.queue.push({ seq: applied.seq, index, time: envelope.time, namespace: notification.namespace ?? envelope.ns, notification });
    }
    if (this.pending > 0) this.kick();
  }

  private get pending(): number {
    return this.queue.length - this.head;
  }

  /**
   * Take up to `count` notifications from the front of the queue. The queue is
   * compacted only once most of it has been taken, so that a burst of a sweep's
   * hundreds of thousands of notifications is not copied once per window.
   */
  private take(count: number): Pending[] {
    const batch = this.queue.slice(this.head, this.head + count);
    this.head += batch.length;
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Start draining unless a drain is running; a drain that ends with work left starts another. */
  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.pending > 0 && !this.stopped) this.kick();
      else for (const resolve of this.idleWaiters.splice(0)) resolve();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending > 0 && !this.stopped) {
      const batch = this.take(WINDOW);
      const acks = batch.map((item) => this.publish(item));
      await Promise.all(acks);
      const last = batch[batch.length - 1]!;
      if (last.seq > this.published.seq || (last.seq === this.published.seq && last.index > this.published.index)) {
        this.published = { seq: last.seq, index: last.index };
      }
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  private async publish(item: Pending): Promise<void> {
    const { notification, namespace } = item;
    const body: NotificationEnvelope = {
      timestamp: item.time,
      namespace,
      topic: notification.topic,
      event: { typeUrl: notification.type, value: encodePayload(notification.payload) },
    };
    const subject = this.layout.topicSubject(namespace, notification.topic);
    const headers = natsHeaders();
    headers.set(SOURCE_SEQ_HEADER, String(item.seq));
    headers.set(TOPIC_HEADER, notification.topic);
    headers.set(NAMESPACE_HEADER, encodeURIComponent(namespace));
    const data = new TextEncoder().encode(JSON.stringify(body));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.js.publish(subject, data, { headers, msgID: `${item.seq}-${item.index}` });
        return;
      } catch (error) {
        if (this.stopped) return;
        this.log.error({ err: error, seq: item.seq, topic: notification.topic, attempt }, "publishing notification failed, retrying");
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * attempt)));
      }
    }
  }

  /** Resolve once everything queued so far is published. */
  async idle(): Promise<void> {
    if (!this.draining && this.pending === 0) return;
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
