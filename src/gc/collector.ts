/**
 * One garbage collection: mark the current view, append the removals as
 * `gc.collected` events, and wait until the view has applied them. Applying
 * re-checks every removal, so a reference made after the mark keeps its object.
 */
import { randomUUID } from "node:crypto";
import type { CommandHandler } from "../commands/handler.js";
import type { Clock } from "../domain/time.js";
import type { Projection } from "../projections/projection.js";
import type { GcOutcome } from "./evolve.js";
import type { GcRemoval } from "./events.js";
import { compareBytes, sortBytes } from "../domain/order.js";
import type { NamespaceState } from "../domain/state.js";
import { markNamespaceSteps, sweepLeasesAndSnapshots, unreachableContent } from "./mark.js";

/** Most removals per `gc.collected` event. */
export const REMOVALS_PER_EVENT = 1000;
/** Most encoded bytes of removals per event, well under the 1 MiB default max payload. */
const BYTES_PER_EVENT = 256 * 1024;
/** Content records checked between two turns of the event loop in a sweep. */
const SWEEP_SLICE = 16_384;

/** Let the commands and messages that arrived meanwhile run. */
function yieldToOthers(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Split removals into chunks bounded by count and by size. Each chunk is cut when
 * it is asked for, so the work is spread between the appends.
 */
export function* chunkRemovals(removals: Iterable<GcRemoval>): Generator<GcRemoval[]> {
  let current: GcRemoval[] = [];
  let bytes = 0;
  for (const removal of removals) {
    const size = 48 + utf8Length(removal.key) + utf8Length(removal.namespace) + utf8Length(removal.snapshotter ?? "");
    if (current.length > 0 && (current.length >= REMOVALS_PER_EVENT || bytes + size > BYTES_PER_EVENT)) {
      yield current;
      current = [];
      bytes = 0;
    }
    current.push(removal);
    bytes += size;
  }
  if (current.length > 0) yield current;
}

/** Build the test of whether a lease or snapshot removal names a record the namespace holds now. */
function presentKeys(namespace: NamespaceState): (removal: GcRemoval) => boolean {
  const leases = new Set(namespace.leases.keys());
  const snapshots = new Map<string, Set<string>>();
  for (const [snapshotter, records] of namespace.snapshots) snapshots.set(snapshotter, new Set(records.keys()));
  return (removal) => {
    if (removal.kind === "lease") return leases.has(removal.key);
    if (removal.kind === "snapshot") return snapshots.get(removal.snapshotter ?? "")?.has(removal.key) === true;
    return true;
  };
}

/** Merge lists sorted by byte order into one sorted sequence. */
export function* mergeSorted(runs: readonly string[][]): Generator<string> {
  const positions = runs.map(() => 0);
  for (;;) {
    let best = -1;
    for (let index = 0; index < runs.length; index++) {
      const candidate = runs[index]![positions[index]!];
      if (candidate === undefined) continue;
      if (best < 0 || compareBytes(candidate, runs[best]![positions[best]!]!) < 0) best = index;
    }
    if (best < 0) return;
    yield runs[best]![positions[best]!++]!;
  }
}

function* contentRemovals(namespace: string, digests: Iterable<string>): Generator<GcRemoval> {
  for (const digest of digests) yield { namespace, kind: "content", key: digest };
}

function* concat<T>(first: Iterable<T>, second: Iterable<T>): Generator<T> {
  yield* first;
  yield* second;
}

/** UTF-8 length of a string, counted without encoding it when it is ASCII. */
function utf8Length(text: string): number {
  for (let index = 0; index < text.length; index++) {
    if (text.charCodeAt(index) > 0x7f) return Buffer.byteLength(text);
  }
  return text.length;
}

export interface CollectionStats {
  startedAt: string;
  /** Log sequence of the view when the collection started; each namespace is marked at its own, later one. */
  viewSeq: number;
  /** Log sequence of the last appended `gc.collected` event; absent when nothing was removable. */
  seq?: number;
  durationMs: number;
  markMs: number;
  roots: number;
  marked: number;
  candidates: number;
  removed: { content: number; snapshots: number; leases: number };
  /** Candidates that were referenced again, or gone, when the removal was applied. */
  skipped: number;
}

function countRemoved(removed: GcRemoval[]): CollectionStats["removed"] {
  const counts = { content: 0, snapshots: 0, leases: 0 };
  for (const removal of removed) {
    if (removal.kind === "content") counts.content++;
    else if (removal.kind === "snapshot") counts.snapshots++;
    else counts.leases++;
  }
  return counts;
}

/**
 * Collect namespace by namespace, because edges never leave a namespace. The event
 * loop is free between namespaces, between the steps of a mark and of the content
 * check, and between the appends, so commands wait at most for one step.
 */
export async function collectGarbage(projection: Projection, commands: CommandHandler, clock: Clock): Promise<CollectionStats> {
  const started = performance.now();
  const startedNanos = clock.nowNanos();
  const startedAt = clock.now();
  const firstViewSeq = projection.seq;
  const totals = { markMs: 0, roots: 0, marked: 0, candidates: 0, skipped: 0, seq: 0 };
  const removed: GcRemoval[] = [];

  let firstNamespace = true;
  for (const name of sortBytes([...projection.state.namespaces.keys()])) {
    if (!firstNamespace) await yieldToOthers();
    firstNamespace = false;
    const namespace = projection.state.namespaces.get(name);
    if (!namespace) continue;

    // Only the records present when the mark starts, at `viewSeq`, can be
    // candidates: one made while the mark runs may simply not have been reached.
    // The mark and the check of the content keys, usually most of the work, run in
    // slices with the event loop free between them. The view moves on meanwhile,
    // and applying each removal checks it against the writes made since `viewSeq`.
    let working = performance.now();
    const viewSeq = projection.seq;
    const digests = [...namespace.content.keys()];
    const present = presentKeys(namespace);
    const steps = markNamespaceSteps(name, namespace, startedNanos, SWEEP_SLICE);
    let step = steps.next();
    while (!step.done) {
      totals.markMs += performance.now() - working;
      await yieldToOthers();
      working = performance.now();
      step = steps.next();
    }
    const result = step.value;
    const removals = sweepLeasesAndSnapshots(name, namespace, result).filter(present);
    totals.markMs += performance.now() - working;

    // Each slice's unreachable digests are sorted on their own and merged as the
    // events are cut, so no step sorts them all.
    const runs: string[][] = [];
    let unreachable = 0;
    for (let start = 0; start < digests.length; start += SWEEP_SLICE) {
      if (start > 0) await yieldToOthers();
      working = performance.now();
      const run = sortBytes(unreachableContent(name, digests.slice(start, start + SWEEP_SLICE), result));
      runs.push(run);
      unreachable += run.length;
      totals.markMs += performance.now() - working;
    }
    totals.roots += result.counts.roots;
    totals.marked += result.counts.marked;
    const candidates = removals.length + unreachable;
    totals.candidates += candidates;
    const all = concat(removals, contentRemovals(name, mergeSorted(runs)));

    // Several events keep each one far below the 1 MiB default max payload;
    // commands interleave with them, and each is re-checked when applied.
    // A collection of a few removals (a synchronous delete's, usually) goes straight on.
    const large = candidates > REMOVALS_PER_EVENT;
    for (const chunk of chunkRemovals(all)) {
      if (large) await yieldToOthers();
      const { revision, verdict } = await commands.execute({
        namespace: "",
        requestId: randomUUID(),
        decide: () => ({ event: { type: "gc.collected", startedAt, viewSeq, removals: chunk }, result: undefined }),
      });
      const outcome = verdict?.outcome as GcOutcome | undefined;
      removed.push(...(outcome?.removed ?? []));
      totals.skipped += outcome?.skipped ?? 0;
      totals.seq = revision;
    }
  }

  const stats: CollectionStats = {
    startedAt,
    viewSeq: firstViewSeq,
    durationMs: performance.now() - started,
    markMs: totals.markMs,
    roots: totals.roots,
    marked: totals.marked,
    candidates: totals.candidates,
    removed: countRemoved(removed),
    skipped: totals.skipped,
  };
  if (totals.seq > 0) stats.seq = totals.seq;
  return stats;
}
