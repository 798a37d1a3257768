/**
 * Every event ctrmeta appends to its log, and the aggregate each one belongs to.
 *
 * An aggregate is one object: the unit of optimistic concurrency, with one subject
 * in the log per aggregate (see `nats/subjects.ts`).
 */
import type { ContainerEvent } from "../domain/container.js";
import type { ContentEvent } from "../domain/content.js";
import type { ImageEvent } from "../domain/image.js";
import type { LeaseEvent } from "../domain/lease.js";
import type { NamespaceEvent } from "../domain/namespace.js";
import type { SnapshotEvent } from "../domain/snapshot.js";
import type { GcEvent } from "../gc/events.js";

export type MetadataEvent = NamespaceEvent | ContainerEvent | ImageEvent | ContentEvent | SnapshotEvent | LeaseEvent | GcEvent;

export type EventType = MetadataEvent["type"];

export type AggregateKind = "namespace" | "container" | "image" | "content" | "snapshot" | "lease" | "gc";

/** The object an event changes. `snapshotter` is set for snapshots only. */
export interface Aggregate {
  kind: AggregateKind;
  /** Object key within its namespace; "" for namespaces and GC. */
  key: string;
  snapshotter?: string;
}

export function aggregateOf(event: MetadataEvent): Aggregate {
  switch (event.type) {
    case "namespace.created":
    case "namespace.updated":
    case "namespace.deleted":
      return { kind: "namespace", key: "" };
    case "container.created":
    case "container.updated":
      return { kind: "container", key: event.container.id };
    case "container.deleted":
      return { kind: "container", key: event.id };
    case "image.created":
    case "image.updated":
      return { kind: "image", key: event.image.name };
    case "image.deleted":
      return { kind: "image", key: event.name };
    case "content.committed":
    case "content.updated":
      return { kind: "content", key: event.info.digest };
    case "content.deleted":
      return { kind: "content", key: event.digest };
    case "snapshot.prepared":
    case "snapshot.committed":
    case "snapshot.updated":
      return { kind: "snapshot", key: event.snapshot.name, snapshotter: event.snapshot.snapshotter };
    case "snapshot.removed":
      return { kind: "snapshot", key: event.key, snapshotter: event.snapshotter };
    case "lease.created":
      return { kind: "lease", key: event.lease.id };
    case "lease.deleted":
    case "lease.resource.added":
    case "lease.resource.deleted":
      return { kind: "lease", key: event.id };
    case "gc.collected":
      return { kind: "gc", key: "" };
  }
}

/**
 * The result a command replied with when it appended `event`, rebuilt from the
 * event for a retried request. Deletes and updates without a record give undefined.
 */
export function resultOf(event: MetadataEvent): unknown {
  switch (event.type) {
    case "container.created":
    case "container.updated":
      return event.container;
    case "image.created":
    case "image.updated":
      return event.image;
    case "content.committed":
    case "content.updated":
      return event.info;
    case "snapshot.prepared":
    case "snapshot.committed":
    case "snapshot.updated":
      return event.snapshot;
    case "lease.created":
      return { ...event.lease, resources: { content: new Set(), ingests: new Set(), snapshots: new Map() } };
    case "namespace.created":
      return { name: event.name, labels: event.requestLabels };
    default:
      return undefined;
  }
}
