/**
 * Collects ctrmeta's notifications during a replay and compares them with the
 * recorded events as a multiset per topic, after applying ctrmeta's documented
 * departures from the recorded containerd 1.6.20 behaviour.
 */
import type { Subscription } from "@nats-io/nats-core";
import type { Client } from "../client/client.js";
import { SOURCE_SEQ_HEADER, type NotificationEnvelope } from "../events/notifier.js";
import type { Instance } from "../service.js";
import { compareBodies, summarizeDiffs } from "./replay-compare.js";
import { fromProtoJson, isObject, type Body, type TraceEvent } from "./replay-convert.js";

export interface ExpectedEvent {
  seq: number;
  opSeq?: number;
  namespace: string;
  topic: string;
  typeUrl: string;
  payload: unknown;
  /** The recorded payload has no `snapshotter`, which ctrmeta's snapshot events carry. */
  withoutSnapshotter: boolean;
}

export interface ActualEvent {
  /** Position in the order of arrival, from 1. */
  index: number;
  namespace: string;
  topic: string;
  typeUrl: string;
  payload: unknown;
  /** Log sequence of the event the notification was derived from. */
  sourceSeq: number;
}

export interface EventResult {
  status: "ok" | "DIFF";
  topic: string;
  /** `#<seq>` of the recorded event, or `+<index>` of an extra notification. */
  label: string;
  detail: string;
  /** Recorded event seq and its step, when the result concerns a recorded event. */
  expectedSeq?: number;
  opSeq?: number;
  kind: "matched" | "differs" | "missing" | "extra" | "extra-gc";
  cause?: "gc";
}

/** One departure and the recorded events it was applied to. */
export interface AppliedDeparture {
  description: string;
  labels: string[];
}

const NAMESPACE_TOPICS = new Set(["/namespaces/create", "/namespaces/update", "/namespaces/delete"]);

export const TARGET_NAMESPACE_DEPARTURE =
  "namespace event envelopes carry the target namespace (ctrmeta and containerd 1.7.9); containerd 1.6.20 used the caller's";
export const SNAPSHOTTER_DEPARTURE =
  "snapshot event payloads carry `snapshotter` in ctrmeta (as in containerd 1.7.9); containerd 1.6.20 omits it, so it is checked for presence and then ignored";
export const GC_DEPARTURE = "notifications made by garbage collection are extra by design; containerd 1.6.20 publishes none";

/** Convert recorded events and apply the departures that concern them. */
export function prepareExpectedEvents(events: TraceEvent[]): { expected: ExpectedEvent[]; departures: AppliedDeparture[] } {
  const target: AppliedDeparture = { description: TARGET_NAMESPACE_DEPARTURE, labels: [] };
  const snapshotter: AppliedDeparture = { description: SNAPSHOTTER_DEPARTURE, labels: [] };
  const expected = events.map((event): ExpectedEvent => {
    const payload = fromProtoJson(event.event);
    const body: Body = isObject(payload) ? payload : {};
    let namespace = event.namespace;
    const name = typeof body.name === "string" ? body.name : "";
    if (NAMESPACE_TOPICS.has(event.topic) && name !== "" && name !== namespace) {
      target.labels.push(`#${event.seq} ${namespace}->${name}`);
      namespace = name;
    }
    const withoutSnapshotter = event.topic.startsWith("/snapshot/") && body.snapshotter === undefined;
    if (withoutSnapshotter) snapshotter.labels.push(`#${event.seq}`);
    return {
      seq: event.seq,
      ...(event.op_seq === undefined ? {} : { opSeq: event.op_seq }),
      namespace,
      topic: event.topic,
      typeUrl: event.type_url,
      payload,
      withoutSnapshotter,
    };
  });
  return { expected, departures: [target, snapshotter].filter((departure) => departure.labels.length > 0) };
}

/** Payload differences, allowing ctrmeta's `snapshotter` where the recording has none. */
function payloadDiffs(expected: ExpectedEvent, actual: ActualEvent): string[] {
  let payload = actual.payload;
  const lines: string[] = [];
  if (expected.withoutSnapshotter && isObject(payload)) {
    const { snapshotter, ...rest } = payload;
    if (typeof snapshotter !== "string" || snapshotter === "") lines.push(`snapshotter: expected a snapshotter name, got ${JSON.stringify(snapshotter)}`);
    payload = rest;
  }
  return [...lines, ...compareBodies(expected.payload, payload)];
}

/** Return the key field of a payload (`id`, `name`, `key` or `digest`), used to pair differing events. */
function identity(payload: unknown): string | undefined {
  if (!isObject(payload)) return undefined;
  for (const field of ["id", "name", "key", "digest"]) {
    if (typeof payload[field] === "string") return `${field}=${payload[field]}`;
  }
  return undefined;
}

/**
 * Match recorded and received events per topic and namespace, ignoring order.
 * Exact matches pair first, then pairs that differ only in type URL, then pairs
 * with the same object key. Recorded events left over are missing, received ones extra.
 */
export function matchEvents(expected: ExpectedEvent[], actual: ActualEvent[], gcMade: ReadonlySet<number>): EventResult[] {
  const results: EventResult[] = [];
  const used = new Set<ActualEvent>();
  const pending = new Set(expected);
  const describe = (event: ExpectedEvent) => ({ topic: event.topic, label: `#${event.seq}`, expectedSeq: event.seq, ...(event.opSeq === undefined ? {} : { opSeq: event.opSeq }) });

  const pass = (accept: (event: ExpectedEvent, candidate: ActualEvent) => boolean, report: (event: ExpectedEvent, candidate: ActualEvent) => EventResult) => {
    for (const event of pending) {
      const candidate = actual.find((item) => !used.has(item) && item.topic === event.topic && item.namespace === event.namespace && accept(event, item));
      if (!candidate) continue;
      used.add(candidate);
      pending.delete(event);
      results.push(report(event, candidate));
    }
  };

  pass(
    (event, item) => item.typeUrl === event.typeUrl && payloadDiffs(event, item).length === 0,
    (event) => ({ ...describe(event), status: "ok", kind: "matched", detail: "matches" }),
  );
  pass(
    (event, item) => payloadDiffs(event, item).length === 0,
    (event, item) => ({ ...describe(event), status: "DIFF", kind: "differs", detail: `typeUrl: expected ${JSON.stringify(event.typeUrl)}, got ${JSON.stringify(item.typeUrl)}` }),
  );
  pass(
    (event, item) => identity(event.payload) !== undefined && identity(event.payload) === identity(item.payload),
    (event, item) => {
      const lines = payloadDiffs(event, item);
      if (item.typeUrl !== event.typeUrl) lines.unshift(`typeUrl: expected ${JSON.stringify(event.typeUrl)}, got ${JSON.stringify(item.typeUrl)}`);
      return { ...describe(event), status: "DIFF", kind: "differs", detail: `payload differs: ${summarizeDiffs(lines)}` };
    },
  );

  for (const event of pending) {
    const rendered = `${event.namespace} ${JSON.stringify(event.payload)}`;
    const cut = rendered.length > 120 ? `${rendered.slice(0, 117)}...` : rendered;
    results.push({ ...describe(event), status: "DIFF", kind: "missing", detail: `missing: ${cut}` });
  }
  for (const item of actual) {
    if (used.has(item)) continue;
    const rendered = `${item.namespace} ${JSON.stringify(item.payload)}`;
    const base = { topic: item.topic, label: `+${item.index}` };
    if (gcMade.has(item.sourceSeq)) results.push({ ...base, status: "ok", kind: "extra-gc", detail: `extra, made by garbage collection: ${rendered}` });
    else results.push({ ...base, status: "DIFF", kind: "extra", detail: `extra: ${rendered}` });
  }
  return results;
}

/** Receives every notification of one ctrmeta on a core NATS subscription. */
export class NotificationCollector {
  readonly received: ActualEvent[] = [];
  private readonly subscription: Subscription;
  private readonly done: Promise<void>;

  constructor(client: Client) {
    const subscription = client.nc.subscribe(client.layout.topicFilter());
    this.subscription = subscription;
    this.done = (async () => {
      for await (const msg of subscription) {
        const envelope = JSON.parse(new TextDecoder().decode(msg.data)) as NotificationEnvelope;
        this.received.push({
          index: this.received.length + 1,
          namespace: envelope.namespace,
          topic: envelope.topic,
          typeUrl: envelope.event?.typeUrl ?? "",
          payload: envelope.event?.value,
          sourceSeq: Number(msg.headers?.get(SOURCE_SEQ_HEADER) ?? 0),
        });
      }
    })();
  }

  /**
   * Wait until every notification derived so far is published and received: as
   * many as the topics stream holds.
   * @param timeoutMs how long to wait for the live subscription to catch up
   */
  async settle(instance: Instance, timeoutMs = 5000): Promise<void> {
    await instance.notificationsIdle();
    const deadline = Date.now() + timeoutMs;
    const info = await instance.jsm.streams.info(instance.layout.topicStream);
    while (this.received.length < info.state.messages) {
      if (Date.now() > deadline) {
        throw new Error(`received ${this.received.length} of ${info.state.messages} notifications within ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async stop(): Promise<void> {
    this.subscription.unsubscribe();
    await this.done;
  }
}

/** Log sequences among `sourceSeqs` whose event is a garbage collection's. */
export async function findGcMade(instance: Instance, sourceSeqs: Iterable<number>): Promise<Set<number>> {
  const gcSubject = instance.layout.aggregateSubject("", { kind: "gc", key: "" });
  const made = new Set<number>();
  for (const seq of new Set(sourceSeqs)) {
    if (seq <= 0) continue;
    const stored = await instance.jsm.streams.getMessage(instance.layout.logStream, { seq });
    if (stored?.subject === gcSubject) made.add(seq);
  }
  return made;
}
