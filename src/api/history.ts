/**
 * The history service: every event of one object, oldest first, with its time,
 * request id and what it changed, read from the object's subject in the log (and,
 * for content, snapshots and leases, the collections that removed it).
 */
import { DeliverPolicy, type JetStreamClient } from "@nats-io/jetstream";
import { InvalidArgument, quote } from "../domain/errors.js";
import { decodeEnvelope, type Envelope } from "../events/codec.js";
import type { MetadataEvent } from "../events/types.js";
import type { Aggregate } from "../events/types.js";
import type { Layout } from "../nats/subjects.js";
import type { MethodTable } from "./context.js";
import { encodeContainer, encodeContentInfo, encodeImage, encodeLease, encodeSnapshot, readString, type Body } from "./wire.js";

export interface Change {
  path: string;
  from?: unknown;
  to?: unknown;
}

export interface HistoryEntry {
  seq: number;
  time: string;
  requestId: string;
  type: string;
  changes: Change[];
}

const KINDS = new Set(["namespace", "container", "image", "content", "snapshot", "lease"]);

/** Field-by-field differences between two JSON values, maps compared per key. */
export function diff(before: unknown, after: unknown, path = ""): Change[] {
  const isMap = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
  // A map that appears or disappears is listed key by key.
  if (before === undefined && isMap(after)) before = {};
  if (after === undefined && isMap(before)) after = {};
  if (isMap(before) && isMap(after)) {
    const changes: Change[] = [];
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      changes.push(...diff(before[key], after[key], path === "" ? key : `${path}.${key}`));
    }
    return changes;
  }
  if (JSON.stringify(before) === JSON.stringify(after)) return [];
  const change: Change = { path };
  if (before !== undefined) change.from = before;
  if (after !== undefined) change.to = after;
  return [change];
}

/** The record an event leaves behind for its own object, as the API shows it; null when it removes it. */
function recordAfter(event: MetadataEvent, previous: Body | null): Body | null {
  switch (event.type) {
    case "namespace.created":
    case "namespace.updated":
      return { labels: { ...event.labels } };
    case "container.created":
    case "container.updated":
      return encodeContainer(event.container);
    case "image.created":
    case "image.updated":
      return encodeImage(event.image);
    case "content.committed":
    case "content.updated":
      return encodeContentInfo(event.info);
    case "snapshot.prepared":
    case "snapshot.committed":
    case "snapshot.updated":
      return encodeSnapshot(event.snapshot);
    case "lease.created":
      return { ...encodeLease(event.lease), resources: {} };
    case "lease.resource.added":
    case "lease.resource.deleted": {
      const resources = { ...((previous?.resources as Record<string, boolean> | undefined) ?? {}) };
      const key = `${event.resource.type}:${event.resource.id}`;
      if (event.type === "lease.resource.added") resources[key] = true;
      else delete resources[key];
      return { ...(previous ?? {}), resources };
    }
    default:
      return null;
  }
}

/** Read every message on one subject of the log, oldest first. */
async function readSubject(js: JetStreamClient, layout: Layout, subject: string): Promise<Array<{ seq: number; envelope: Envelope }>> {
  const consumer = await js.consumers.get(layout.logStream, { filter_subjects: subject, deliver_policy: DeliverPolicy.All });
  const out: Array<{ seq: number; envelope: Envelope }> = [];
  let pending = (await consumer.info()).num_pending;
  while (pending > 0) {
    const batch = await consumer.fetch({ max_messages: Math.min(pending, 500), expires: 5000 });
    let received = 0;
    for await (const message of batch) {
      received++;
      out.push({ seq: message.seq, envelope: decodeEnvelope(message.data) });
      pending = message.info.pending;
      // Stop at the last message instead of waiting for the batch to expire.
      if (pending === 0) break;
    }
    if (received === 0) break;
  }
  return out;
}

export function historyMethods(js: JetStreamClient, layout: Layout): MethodTable {
  return {
    history: {
      async get(context, body) {
        const kind = readString(body, "kind") ?? "";
        if (!KINDS.has(kind)) throw new InvalidArgument(`kind ${JSON.stringify(kind)}: expected one of ${[...KINDS].join(", ")}`);
        const key = readString(body, "key") ?? "";
        const snapshotter = readString(body, "snapshotter");
        const aggregate: Aggregate = { kind: kind as Aggregate["kind"], key: kind === "namespace" ? "" : key };
        if (kind === "snapshot") aggregate.snapshotter = snapshotter ?? "";
        // Like the namespaces service, the history of a namespace is read in that
        // namespace, so a NATS permission on one namespace's subjects cannot read another's.
        if (kind === "namespace" && key !== "" && context.namespace !== "" && key !== context.namespace) {
          throw new InvalidArgument(`namespace ${quote(key)} does not match the request's namespace ${quote(context.namespace)}`);
        }
        const namespace = kind === "namespace" ? key || context.namespace : context.namespace;

        const messages = await readSubject(js, layout, layout.aggregateSubject(namespace, aggregate));
        if (kind === "content" || kind === "snapshot" || kind === "lease") {
          for (const item of await readSubject(js, layout, layout.aggregateSubject("", { kind: "gc", key: "" }))) {
            const event = item.envelope.event;
            const removes =
              event.type === "gc.collected" &&
              event.removals.some((r) => r.namespace === namespace && r.kind === kind && r.key === key && (kind !== "snapshot" || r.snapshotter === snapshotter));
            if (removes) messages.push(item);
          }
          messages.sort((a, b) => a.seq - b.seq);
        }

        const entries: HistoryEntry[] = [];
        let previous: Body | null = null;
        for (const { seq, envelope } of messages) {
          const after: Body | null = envelope.event.type === "gc.collected" ? null : recordAfter(envelope.event, previous);
          const type = envelope.event.type === "gc.collected" ? `${kind}.removed-by-gc` : envelope.event.type;
          entries.push({ seq, time: envelope.time, requestId: envelope.req, type, changes: diff(previous ?? undefined, after ?? undefined) });
          previous = after;
        }
        return { body: { kind, namespace, key, history: entries } };
      },
    },
  };
}
