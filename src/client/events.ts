/**
 * Subscriptions to ctrmeta's notifications (containerd's event topics), from the
 * topics stream: from now, from a stream sequence or from a time, for one
 * namespace or all, for chosen topics. A named (durable) subscription resumes where
 * its consumer last acknowledged, so delivery is at least once; every notification
 * carries its stream sequence, by which a consumer can drop repeats.
 *
 * Example:
 *   for await (const event of client.events.subscribe({ namespace: "default", topics: ["/containers/create"] })) {
 *     console.log(event.seq, event.topic, event.event.value);
 *   }
 */
import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerMessages,
  type JetStreamClient,
} from "@nats-io/jetstream";
import { FailedPrecondition, InvalidArgument, Unavailable } from "../domain/errors.js";
import type { NotificationEnvelope } from "../events/notifier.js";
import type { Client } from "./client.js";

export interface SubscribeOptions {
  /** Where to start: "now" (default), a stream sequence, or a time. A durable subscription that exists resumes instead. */
  from?: "now" | "start" | { seq: number } | { time: Date | string };
  /** One namespace; all namespaces when undefined. */
  namespace?: string;
  /** Topics such as `/containers/create`; all topics when undefined or empty. */
  topics?: string[];
  /** Name of a durable subscription kept by the server; without one, the subscription ends with the iterator. */
  durable?: string;
  /** Ends the iteration when aborted, even while waiting for the next notification. */
  signal?: AbortSignal;
}

/** One notification with its place in the topics stream. */
export interface DeliveredEvent extends NotificationEnvelope {
  /** Sequence in the topics stream; increases with every notification. */
  seq: number;
  /** Sequence of the change in the log. */
  sourceSeq: number;
}

const encoderless = new TextDecoder();

const SUBSCRIBE_OPTIONS = new Set(["from", "namespace", "topics", "durable", "signal"]);

/** Reject options a caller may have misspelt (such as `fromSeq`) instead of silently starting now. */
function checkSubscribeOptions(options: SubscribeOptions): void {
  for (const key of Object.keys(options)) {
    if (!SUBSCRIBE_OPTIONS.has(key)) {
      throw new InvalidArgument(`subscribe option ${JSON.stringify(key)} is unknown: expected one of ${[...SUBSCRIBE_OPTIONS].join(", ")}`);
    }
  }
  const from: unknown = options.from;
  const validFrom =
    from === undefined ||
    from === "now" ||
    from === "start" ||
    (typeof from === "object" && from !== null && ("seq" in from || "time" in from));
  if (!validFrom) {
    throw new InvalidArgument(`subscribe option from ${JSON.stringify(from)}: expected "now", "start", { seq: N } or { time: T }`);
  }
  if (options.topics !== undefined && (!Array.isArray(options.topics) || options.topics.some((topic) => typeof topic !== "string"))) {
    throw new InvalidArgument(`subscribe option topics ${JSON.stringify(options.topics)}: expected an array of topics such as "/containers/create"`);
  }
}

export class EventsClient {
  constructor(private readonly client: Client) {}

  /**
   * Iterate notifications. A durable subscription acknowledges each notification
   * when the loop asks for the next one, so the one being handled when the loop
   * stopped or the process died is delivered again on resume.
   */
  async *subscribe(options: SubscribeOptions = {}): AsyncGenerator<DeliveredEvent> {
    checkSubscribeOptions(options);
    const { layout, nc } = this.client;
    const topics = options.topics ?? [];
    const single = topics.length === 1 ? topics[0] : undefined;
    const filter = layout.topicFilter(options.namespace, single);
    const wanted = topics.length > 1 ? new Set(topics) : undefined;
    const start = await this.startPolicy(options.from ?? "now");

    const js: JetStreamClient = jetstream(nc);
    let messages: ConsumerMessages;
    if (options.durable !== undefined) {
      const jsm = await jetstreamManager(nc);
      const config: Partial<ConsumerConfig> = { durable_name: options.durable, filter_subject: filter, ack_policy: AckPolicy.Explicit, ...start };
      try {
        await jsm.consumers.info(layout.topicStream, options.durable);
      } catch (error) {
        if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
        await jsm.consumers.add(layout.topicStream, config);
      }
      messages = await (await js.consumers.get(layout.topicStream, options.durable)).consume();
    } else {
      messages = await (await js.consumers.get(layout.topicStream, { filter_subjects: filter, ...start })).consume();
    }

    const close = () => void messages.close();
    options.signal?.addEventListener("abort", close, { once: true });
    if (options.signal?.aborted) close();
    let pending: { ack(): void } | undefined;
    try {
      for await (const message of messages) {
        pending?.ack();
        pending = options.durable !== undefined ? message : undefined;
        const envelope = JSON.parse(encoderless.decode(message.data)) as NotificationEnvelope;
        if (wanted && !wanted.has(envelope.topic)) continue;
        yield { ...envelope, seq: message.seq, sourceSeq: Number(message.headers?.get("Ctrmeta-Source-Seq") ?? 0) };
      }
      // Only `signal` ends the iteration on purpose (a loop that breaks out never
      // gets here). Any other end, such as a connection that could not be restored,
      // must not look like a normal end to the caller.
      if (!options.signal?.aborted) {
        const reason = nc.isClosed() ? "the connection to NATS is closed" : "the server stopped delivering";
        throw new Unavailable(`notification subscription ended: ${reason}`);
      }
    } finally {
      // The last event is not acknowledged: the loop stopped while handling it, or
      // after it without asking for more; either way it comes again on resume.
      // NOTE: the server sends it, and the events received after it, only once the
      // consumer's acknowledgement wait (30 s by default) has passed.
      options.signal?.removeEventListener("abort", close);
      await messages.close();
    }
  }

  /** Delete a durable subscription. */
  async unsubscribe(durable: string): Promise<void> {
    const jsm = await jetstreamManager(this.client.nc);
    await jsm.consumers.delete(this.client.layout.topicStream, durable);
  }

  /** Translate a start into consumer options, refusing a start that retention removed. */
  private async startPolicy(from: NonNullable<SubscribeOptions["from"]>): Promise<Partial<ConsumerConfig>> {
    if (from === "now") return { deliver_policy: DeliverPolicy.New };
    if (from === "start") return { deliver_policy: DeliverPolicy.All };
    const jsm = await jetstreamManager(this.client.nc);
    const state = (await jsm.streams.info(this.client.layout.topicStream)).state;
    if ("seq" in from) {
      if (!Number.isSafeInteger(from.seq) || from.seq < 1) throw new InvalidArgument(`from.seq ${from.seq}: expected a sequence >= 1`);
      if (state.messages > 0 && from.seq < state.first_seq) {
        throw new FailedPrecondition(
          `notifications before sequence ${state.first_seq} are no longer retained (requested ${from.seq}): start at ${state.first_seq} or later`,
        );
      }
      return { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from.seq };
    }
    const time = new Date(from.time);
    if (Number.isNaN(time.getTime())) throw new InvalidArgument(`from.time ${String(from.time)}: expected a date`);
    if (state.first_seq > 1 && state.messages > 0 && time.getTime() < new Date(state.first_ts).getTime()) {
      throw new FailedPrecondition(
        `notifications before ${state.first_ts} are no longer retained (requested ${time.toISOString()}): start at that time or later`,
      );
    }
    return { deliver_policy: DeliverPolicy.StartTime, opt_start_time: time.toISOString() };
  }
}
