/**
 * The in-memory metadata state that projections build and commands read.
 *
 * One `NamespaceState` per namespace holds every object kind containerd keeps in a
 * namespace. Records are plain values: a projection replaces a record instead of
 * mutating it, so a reference handed to a reader never changes under it.
 */
import type { Container } from "./container.js";
import type { ContentInfo } from "./content.js";
import type { Image } from "./image.js";
import { emptyMap, type StringMap } from "./labels.js";
import type { Lease } from "./lease.js";
import type { Snapshot } from "./snapshot.js";

export interface NamespaceState {
  readonly name: string;
  labels: StringMap;
  containers: Map<string, Container>;
  images: Map<string, Image>;
  content: Map<string, ContentInfo>;
  /** Snapshot records per snapshotter name, then per key. */
  snapshots: Map<string, Map<string, Snapshot>>;
  /** Child keys per snapshotter, then per parent key: the links that block a Remove. */
  snapshotChildren: Map<string, Map<string, Set<string>>>;
  leases: Map<string, Lease>;
  /**
   * containerd keeps a namespace's container bucket after its last container is
   * deleted, and an update or delete then reports `container "x": not found`
   * instead of `cannot update container "x" in namespace "ns"`.
   */
  hasContainerBucket: boolean;
  /**
   * Log sequence of the last event in this namespace that could add a reference
   * (anything but a deletion). A collection whose view is newer than this needs
   * no new mark to know its candidates are still unreachable.
   */
  lastWriteSeq: number;
  /** The objects those events wrote, so that a collection can mark from them alone. */
  writes: WriteJournal;
}

/** An object that an event created or changed. `snapshotter` is set for snapshots only. */
export interface WrittenObject {
  readonly seq: number;
  readonly kind: "content" | "snapshot" | "lease" | "image" | "container";
  readonly key: string;
  readonly snapshotter?: string;
}

/**
 * The latest writes of a namespace, oldest first. It lists every write with a log
 * sequence above `complete`; older ones are dropped once it reaches
 * `WRITE_JOURNAL_LIMIT` writes.
 */
export interface WriteJournal {
  complete: number;
  entries: WrittenObject[];
}

export const WRITE_JOURNAL_LIMIT = 65_536;

export function recordWrite(namespace: NamespaceState, written: WrittenObject): void {
  const journal = namespace.writes;
  journal.entries.push(written);
  if (journal.entries.length > WRITE_JOURNAL_LIMIT) {
    const dropped = journal.entries.length >> 1;
    journal.complete = journal.entries[dropped - 1]!.seq;
    journal.entries = journal.entries.slice(dropped);
  }
}

/** Return the writes after log sequence `seq`, or undefined when the journal no longer lists them all. */
export function writesAfter(namespace: NamespaceState, seq: number): WrittenObject[] | undefined {
  const journal = namespace.writes;
  if (seq < journal.complete) return undefined;
  const entries = journal.entries;
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (entries[middle]!.seq <= seq) low = middle + 1;
    else high = middle;
  }
  return entries.slice(low);
}

export interface MetadataState {
  namespaces: Map<string, NamespaceState>;
}

export function emptyState(): MetadataState {
  return { namespaces: new Map() };
}

export function newNamespaceState(name: string): NamespaceState {
  return {
    name,
    labels: emptyMap(),
    containers: new Map(),
    images: new Map(),
    content: new Map(),
    snapshots: new Map(),
    snapshotChildren: new Map(),
    leases: new Map(),
    hasContainerBucket: false,
    lastWriteSeq: 0,
    writes: { complete: 0, entries: [] },
  };
}

/** Return the namespace, creating it implicitly: any successful write does this. */
export function ensureNamespace(state: MetadataState, name: string): NamespaceState {
  let namespace = state.namespaces.get(name);
  if (!namespace) {
    namespace = newNamespaceState(name);
    state.namespaces.set(name, namespace);
  }
  return namespace;
}

/** Snapshot records of one snapshotter in a namespace; undefined when there are none. */
export function snapshotsOf(namespace: NamespaceState | undefined, snapshotter: string): Map<string, Snapshot> | undefined {
  return namespace?.snapshots.get(snapshotter);
}
