/**
 * The mark phase of garbage collection over the whole metadata state, and the list
 * of records a sweep would remove. Roots and edges follow containerd v1.7.9
 * (`metadata/gc.go`, `gc/gc.go`) without ingests, sandboxes and collectible
 * resources, which ctrmeta does not keep.
 */
import { sortBytes } from "../domain/order.js";
import type { Snapshot } from "../domain/snapshot.js";
import type { StringMap } from "../domain/labels.js";
import type { Container } from "../domain/container.js";
import type { Image } from "../domain/image.js";
import type { Lease } from "../domain/lease.js";
import type { MetadataState, NamespaceState, WrittenObject } from "../domain/state.js";
import type { GcRemoval } from "./events.js";
import {
  hasFlatLabel,
  hasRootLabel,
  isLeaseExpired,
  splitSnapshotReference,
  visitReferences,
  type ReferenceVisitor,
} from "./references.js";

export type NodeKind = "content" | "snapshot" | "lease" | "image" | "container";

/** An object in the reachability graph. `key` is a digest, snapshot key, lease id, image name or container id. */
export interface GcNode {
  kind: NodeKind;
  namespace: string;
  key: string;
  /** Set for snapshots only. */
  snapshotter?: string;
}

/** Result of a mark over the whole state at one instant. */
export interface MarkResult {
  /**
   * Whether the record exists and is kept. Content, snapshot and live lease records
   * are kept when marked. Images and containers are never collected, so any existing
   * one is reachable. A record that does not exist is never reachable.
   */
  isReachable(node: GcNode): boolean;
  /** Why a node is kept: the chain from a root to it (root first), or undefined when unreachable. */
  explain(node: GcNode): GcNode[] | undefined;
  /**
   * Root holders found (images, containers, live leases, and content and snapshot
   * records labelled `containerd.io/gc.root`) and content, snapshot and lease
   * records marked.
   */
  counts: { roots: number; marked: number };
}

/**
 * How far a node's edges are followed. A flat node keeps only its snapshot parent
 * chain, itself flat. A node reached both ways is followed as full.
 */
type Level = 0 | 1 | 2;
const UNMARKED: Level = 0;
const FLAT: Level = 1;
const FULL: Level = 2;

/** A marked node. `explain` builds the `GcNode` on demand, which keeps each mark small. */
interface Mark {
  readonly kind: NodeKind;
  readonly key: string;
  readonly snapshotter: string | undefined;
  readonly scope: NamespaceMarks;
  level: Level;
  /** Level at which the edges were last followed. It is below `level` while the node waits in the work list. */
  followed: Level;
  /** The node whose edge last raised `level`, or undefined for a root. */
  predecessor: Mark | undefined;
}

/** Marks of one namespace. Edges never leave a namespace. */
interface NamespaceMarks {
  readonly name: string;
  readonly state: NamespaceState;
  readonly content: Map<string, Mark>;
  /** Per snapshotter, then per key, like `NamespaceState.snapshots`. */
  readonly snapshots: Map<string, Map<string, Mark>>;
  readonly leases: Map<string, Mark>;
  readonly images: Map<string, Mark>;
}

/**
 * Mark from every root over all namespaces. `now` is the collection start in
 * nanoseconds since the Unix epoch. A lease whose `containerd.io/gc.expire` is
 * strictly before it has expired.
 *
 * The walk uses an explicit work list, so long parent chains need no call stack, and
 * visits each node at most twice (flat, then full), so it runs in time linear in
 * objects plus edges.
 */
export function mark(state: MetadataState, now: bigint): MarkResult {
  const marker = new Marker();
  for (const [name, namespace] of state.namespaces) {
    marker.scanRoots(name, namespace, now);
  }
  marker.drain();
  return new MarkIndex(marker.scopes, { roots: marker.roots, marked: marker.marked });
}

/**
 * Marks of one namespace from the objects written after a collection's view, and
 * what they show about the candidates the collector's mark left unmarked. A path
 * from a root that crosses no written object existed during that whole mark, which
 * followed it. So a candidate reachable now is reachable from a written object
 * that is reachable now, and:
 * - `rooted`, marked from the written roots, contains candidates that are reachable;
 * - `loose`, marked from the other written content and snapshots, contains the
 *   candidates whose fate depends on whether those records are reachable, which
 *   only a mark of the whole namespace can tell;
 * - a candidate in neither is still unreachable.
 */
export interface WrittenMarks {
  rooted: MarkResult;
  loose: MarkResult;
}

export function markFromWrites(name: string, namespace: NamespaceState, written: readonly WrittenObject[], now: bigint): WrittenMarks {
  const rooted = new Marker();
  rooted.scanWrittenRoots(rooted.addScope(name, namespace), written, now);
  rooted.drain();
  const loose = new Marker();
  loose.scanWrittenRecords(loose.addScope(name, namespace), written);
  loose.drain();
  return {
    rooted: new MarkIndex(rooted.scopes, { roots: rooted.roots, marked: rooted.marked }),
    loose: new MarkIndex(loose.scopes, { roots: loose.roots, marked: loose.marked }),
  };
}

/**
 * Mark one namespace in steps, pausing after every `budget` objects: between two
 * steps the caller may let other work change the namespace. Such a mark does not
 * see one instant. Every path from a root that no write touched while it ran
 * existed all along, so it follows that path. A collection's removals are checked
 * against the writes when they are applied (`src/gc/evolve.ts`).
 */
export function* markNamespaceSteps(name: string, namespace: NamespaceState, now: bigint, budget: number): Generator<void, MarkResult, void> {
  const marker = new Marker();
  yield* marker.rootSteps(name, namespace, now, budget);
  yield* marker.drainSteps(budget);
  return new MarkIndex(marker.scopes, { roots: marker.roots, marked: marker.marked });
}

function runToEnd(steps: Generator<void, void, void>): void {
  for (let step = steps.next(); !step.done; step = steps.next());
}

class Marker {
  readonly scopes = new Map<string, NamespaceMarks>();
  roots = 0;
  marked = 0;
  private readonly pending: Mark[] = [];

  /** Namespace and node whose labels `labelVisitor` is reading. One visitor serves every scan. */
  private labelScope: NamespaceMarks | undefined;
  private labelSource: Mark | undefined;
  private readonly labelVisitor: ReferenceVisitor = {
    content: (digest) => this.markContent(this.labelScope!, digest, FULL, this.labelSource),
    snapshot: (snapshotter, key) => this.markSnapshot(this.labelScope!, snapshotter, key, FULL, this.labelSource),
  };

  /** Start the marks of one namespace. */
  addScope(name: string, namespace: NamespaceState): NamespaceMarks {
    const scope: NamespaceMarks = {
      name,
      state: namespace,
      content: new Map(),
      snapshots: new Map(),
      leases: new Map(),
      images: new Map(),
    };
    this.scopes.set(name, scope);
    return scope;
  }

  /** Mark the roots of one namespace, in containerd's scan order. */
  scanRoots(name: string, namespace: NamespaceState, now: bigint): void {
    runToEnd(this.rootSteps(name, namespace, now, Infinity));
  }

  /** The work of `scanRoots`, pausing after every `budget` objects looked at. */
  *rootSteps(name: string, namespace: NamespaceState, now: bigint, budget: number): Generator<void, void, void> {
    const scope = this.addScope(name, namespace);
    let work = 0;
    for (const [id, lease] of namespace.leases) {
      this.rootLease(scope, id, lease, now);
      if (++work >= budget) {
        work = 0;
        yield;
      }
    }
    for (const [imageName, image] of namespace.images) {
      this.rootImage(scope, imageName, image);
      if (++work >= budget) {
        work = 0;
        yield;
      }
    }
    for (const [digest, info] of namespace.content) {
      if (hasRootLabel(info.labels)) this.rootContent(scope, digest);
      if (++work >= budget) {
        work = 0;
        yield;
      }
    }
    for (const [id, container] of namespace.containers) {
      this.rootContainer(scope, id, container);
      if (++work >= budget) {
        work = 0;
        yield;
      }
    }
    for (const [snapshotter, records] of namespace.snapshots) {
      for (const [key, snapshot] of records) {
        if (hasRootLabel(snapshot.labels)) this.rootSnapshot(scope, snapshotter, key);
        if (++work >= budget) {
          work = 0;
          yield;
        }
      }
    }
  }

  /**
   * Mark from the written objects that are roots: images, containers, live leases,
   * and content and snapshots labelled as roots. Other written content and
   * snapshots are left out, since whether they are reachable depends on the rest of
   * the namespace.
   */
  scanWrittenRoots(scope: NamespaceMarks, written: readonly WrittenObject[], now: bigint): void {
    const namespace = scope.state;
    for (const object of written) {
      switch (object.kind) {
        case "lease": {
          const lease = namespace.leases.get(object.key);
          if (lease) this.rootLease(scope, object.key, lease, now);
          break;
        }
        case "image": {
          const image = namespace.images.get(object.key);
          if (image) this.rootImage(scope, object.key, image);
          break;
        }
        case "container": {
          const container = namespace.containers.get(object.key);
          if (container) this.rootContainer(scope, object.key, container);
          break;
        }
        case "content": {
          const info = namespace.content.get(object.key);
          if (info && hasRootLabel(info.labels)) this.rootContent(scope, object.key);
          break;
        }
        case "snapshot": {
          const snapshot = namespace.snapshots.get(object.snapshotter!)?.get(object.key);
          if (snapshot && hasRootLabel(snapshot.labels)) this.rootSnapshot(scope, object.snapshotter!, object.key);
          break;
        }
      }
    }
  }

  /** Mark from every written content and snapshot record as if it were a root. */
  scanWrittenRecords(scope: NamespaceMarks, written: readonly WrittenObject[]): void {
    for (const object of written) {
      if (object.kind === "content") this.markContent(scope, object.key, FULL, undefined);
      else if (object.kind === "snapshot") this.markSnapshot(scope, object.snapshotter!, object.key, FULL, undefined);
    }
  }

  private rootLease(scope: NamespaceMarks, id: string, lease: Lease, now: bigint): void {
    if (isLeaseExpired(lease.labels, now)) return;
    const holder = this.markHolder(scope.leases, scope, "lease", id);
    this.marked++;
    const level = hasFlatLabel(lease.labels) ? FLAT : FULL;
    for (const digest of lease.resources.content) {
      this.markContent(scope, digest, level, holder);
    }
    for (const [snapshotter, keys] of lease.resources.snapshots) {
      for (const key of keys) this.markSnapshot(scope, snapshotter, key, level, holder);
    }
  }

  private rootImage(scope: NamespaceMarks, name: string, image: Image): void {
    const holder = this.markHolder(scope.images, scope, "image", name);
    this.markContent(scope, image.target.digest, FULL, holder);
    this.followLabels(scope, image.labels, holder);
  }

  private rootContent(scope: NamespaceMarks, digest: string): void {
    this.roots++;
    this.markContent(scope, digest, FULL, undefined);
  }

  /**
   * A container's holder mark is not indexed: a namespace has thousands of
   * containers, and `MarkIndex` makes the mark of any existing container on demand.
   * Chains through it still reach it as a predecessor.
   */
  private rootContainer(scope: NamespaceMarks, id: string, container: Container): void {
    const holder = holderMark(scope, "container", id);
    this.roots++;
    // An empty snapshot key still names a root, as in containerd.
    if (container.snapshotter !== "") {
      this.markSnapshot(scope, container.snapshotter, container.snapshotKey, FULL, holder);
    }
    this.followLabels(scope, container.labels, holder);
  }

  private rootSnapshot(scope: NamespaceMarks, snapshotter: string, key: string): void {
    this.roots++;
    this.markSnapshot(scope, snapshotter, key, FULL, undefined);
  }

  /** Follow the edges of every node in the work list until it is empty. */
  drain(): void {
    runToEnd(this.drainSteps(Infinity));
  }

  /** The work of `drain`, pausing after every `budget` nodes taken from the work list. */
  *drainSteps(budget: number): Generator<void, void, void> {
    let work = 0;
    for (let next = this.pending.pop(); next !== undefined; next = this.pending.pop()) {
      if (++work >= budget) {
        work = 0;
        yield;
      }
      // A node raised from flat to full while waiting is listed twice, and the first pop follows it as full.
      if (next.followed >= next.level) continue;
      next.followed = next.level;
      if (next.kind === "content") {
        this.followContent(next);
      } else if (next.kind === "snapshot") {
        this.followSnapshot(next);
      }
    }
  }

  private followContent(content: Mark): void {
    if (content.level !== FULL) return;
    const info = content.scope.state.content.get(content.key);
    if (info) this.followLabels(content.scope, info.labels, content);
  }

  private followSnapshot(snapshot: Mark): void {
    const snapshotter = snapshot.snapshotter!;
    const record = snapshot.scope.state.snapshots.get(snapshotter)?.get(snapshot.key);
    if (!record) return;
    if (record.parent !== "") {
      this.markSnapshot(snapshot.scope, snapshotter, record.parent, snapshot.level, snapshot);
    }
    if (snapshot.level === FULL) this.followLabels(snapshot.scope, record.labels, snapshot);
  }

  private followLabels(scope: NamespaceMarks, labels: Readonly<StringMap>, from: Mark): void {
    this.labelScope = scope;
    this.labelSource = from;
    visitReferences(labels, this.labelVisitor);
  }

  /** Record a root holder (lease or image), which has no edges of its own to follow. */
  private markHolder(marks: Map<string, Mark>, scope: NamespaceMarks, kind: NodeKind, key: string): Mark {
    const holder = holderMark(scope, kind, key);
    marks.set(key, holder);
    this.roots++;
    return holder;
  }

  private markContent(scope: NamespaceMarks, digest: string, level: Level, from: Mark | undefined): void {
    let content = scope.content.get(digest);
    if (content === undefined) {
      if (!scope.state.content.has(digest)) return; // dead edge
      content = newMark("content", digest, undefined, scope);
      scope.content.set(digest, content);
      this.marked++;
    }
    this.raise(content, level, from);
  }

  private markSnapshot(
    scope: NamespaceMarks,
    snapshotterName: string,
    keyName: string,
    level: Level,
    from: Mark | undefined,
  ): void {
    let snapshotter = snapshotterName;
    let key = keyName;
    if (snapshotterName.includes("/")) [snapshotter, key] = splitSnapshotReference(snapshotterName, keyName);

    let marks = scope.snapshots.get(snapshotter);
    let snapshot = marks?.get(key);
    if (snapshot === undefined) {
      if (!scope.state.snapshots.get(snapshotter)?.has(key)) return; // dead edge
      if (marks === undefined) {
        marks = new Map();
        scope.snapshots.set(snapshotter, marks);
      }
      snapshot = newMark("snapshot", key, snapshotter, scope);
      marks.set(key, snapshot);
      this.marked++;
    }
    this.raise(snapshot, level, from);
  }

  private raise(target: Mark, level: Level, from: Mark | undefined): void {
    if (level <= target.level) return;
    target.level = level;
    target.predecessor = from;
    this.pending.push(target);
  }
}

function holderMark(scope: NamespaceMarks, kind: NodeKind, key: string): Mark {
  return { kind, key, snapshotter: undefined, scope, level: FULL, followed: FULL, predecessor: undefined };
}

function newMark(kind: NodeKind, key: string, snapshotter: string | undefined, scope: NamespaceMarks): Mark {
  return { kind, key, snapshotter, scope, level: UNMARKED, followed: UNMARKED, predecessor: undefined };
}

function nodeOf(step: Mark): GcNode {
  const node: GcNode = { kind: step.kind, namespace: step.scope.name, key: step.key };
  if (step.snapshotter !== undefined) node.snapshotter = step.snapshotter;
  return node;
}

class MarkIndex implements MarkResult {
  constructor(
    private readonly scopes: ReadonlyMap<string, NamespaceMarks>,
    readonly counts: { roots: number; marked: number },
  ) {}

  isReachable(node: GcNode): boolean {
    return this.find(node) !== undefined;
  }

  explain(node: GcNode): GcNode[] | undefined {
    let step = this.find(node);
    if (!step) return undefined;
    const chain: GcNode[] = [];
    for (; step !== undefined; step = step.predecessor) {
      chain.push(nodeOf(step));
    }
    return chain.reverse();
  }

  private find(node: GcNode): Mark | undefined {
    const scope = this.scopes.get(node.namespace);
    if (!scope) return undefined;
    switch (node.kind) {
      case "content":
        return scope.content.get(node.key);
      case "snapshot": {
        const [snapshotter, key] = splitSnapshotReference(node.snapshotter ?? "", node.key);
        return scope.snapshots.get(snapshotter)?.get(key);
      }
      case "lease":
        return scope.leases.get(node.key);
      case "image":
        return scope.images.get(node.key);
      case "container":
        return scope.state.containers.has(node.key) ? holderMark(scope, "container", node.key) : undefined;
    }
  }
}

/**
 * Everything a sweep would remove: unreachable content records, unreachable snapshot
 * records (children listed before their parents), expired leases. Deterministic
 * order: namespaces in byte order, then leases, snapshots (by snapshotter), content,
 * with keys in byte order where the parent rule allows.
 */
export function sweepCandidates(state: MetadataState, result: MarkResult): GcRemoval[] {
  const removals: GcRemoval[] = [];
  for (const name of sortBytes([...state.namespaces.keys()])) {
    const namespace = state.namespaces.get(name)!;
    removals.push(...sweepLeasesAndSnapshots(name, namespace, result));
    for (const digest of sortBytes(unreachableContent(name, [...namespace.content.keys()], result))) {
      removals.push({ namespace: name, kind: "content", key: digest });
    }
  }
  return removals;
}

/** List the leases and snapshots a sweep of one namespace would remove, in `sweepCandidates` order. */
export function sweepLeasesAndSnapshots(name: string, namespace: NamespaceState, result: MarkResult): GcRemoval[] {
  const removals: GcRemoval[] = [];
  for (const id of sortBytes([...namespace.leases.keys()])) {
    if (!result.isReachable({ kind: "lease", namespace: name, key: id })) {
      removals.push({ namespace: name, kind: "lease", key: id });
    }
  }

  for (const snapshotter of sortBytes([...namespace.snapshots.keys()])) {
    const records = namespace.snapshots.get(snapshotter)!;
    const unreachable = new Set<string>();
    for (const key of sortBytes([...records.keys()])) {
      if (!result.isReachable({ kind: "snapshot", namespace: name, key, snapshotter })) unreachable.add(key);
    }
    for (const key of childrenFirst(records, unreachable)) {
      removals.push({ namespace: name, kind: "snapshot", key, snapshotter });
    }
  }
  return removals;
}

/**
 * Return the digests among `digests` (content keys of namespace `name`) that the
 * mark left unmarked, in their given order. A caller may check a long list in slices.
 */
export function unreachableContent(name: string, digests: readonly string[], result: MarkResult): string[] {
  const node: GcNode = { kind: "content", namespace: name, key: "" };
  return digests.filter((digest) => {
    node.key = digest;
    return !result.isReachable(node);
  });
}

/**
 * Order snapshot keys so that each comes after all of its children: a post-order walk
 * from every key whose parent is not in the set, visiting keys in the set's order.
 * The children of an unreachable snapshot are all unreachable, so no child is missed.
 */
function childrenFirst(records: ReadonlyMap<string, Snapshot>, keys: ReadonlySet<string>): string[] {
  const children = new Map<string, string[]>();
  const bases: string[] = [];
  for (const key of keys) {
    const parent = records.get(key)!.parent;
    if (parent !== "" && keys.has(parent)) {
      const siblings = children.get(parent);
      if (siblings) siblings.push(key);
      else children.set(parent, [key]);
    } else {
      bases.push(key);
    }
  }

  const ordered: string[] = [];
  for (const base of bases) {
    const stack: Array<{ key: string; nextChild: number }> = [{ key: base, nextChild: 0 }];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const below = children.get(frame.key);
      if (below !== undefined && frame.nextChild < below.length) {
        stack.push({ key: below[frame.nextChild++]!, nextChild: 0 });
        continue;
      }
      stack.pop();
      ordered.push(frame.key);
    }
  }

  // Keys on a parent cycle are never reached from a base. Commands cannot create such
  // a cycle, but listing the keys keeps the result complete if one ever appears.
  if (ordered.length < keys.size) {
    const placed = new Set(ordered);
    for (const key of keys) {
      if (!placed.has(key)) ordered.push(key);
    }
  }
  return ordered;
}
