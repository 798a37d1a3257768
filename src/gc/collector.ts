/**
 * One garbage collection: mark the current view, append the removals as
 * `gc.collected` events, and wait until the view has applied them. Applying
 * re-checks every removal, so a reference made after the mark keeps its object.
 */
import { randomUUID } from "node:crypto";
import type { CommandHandler } from "../commands/handler.js";
import { sortBytes } from "../domain/order.js";
import type { Clock } from "../domain/time.js";
import type { Projection } from "../projections/projection.js";
import type { GcOutcome } from "./evolve.js";
import type { GcRemoval } from "./events.js";
import { mark, sweepLeasesAndSnapshots, unreachableContent } from "./mark.js";

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
export function* chunkRemovals(removals: readonly GcRemoval[]): Generator<GcRemoval[]> {
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
 * Collect namespace by namespace: each namespace is marked at once at its own view
 * (edges never leave a namespace). The event loop is free between namespaces,
 * between slices of a namespace's content and between the appends, so commands
 * wait at most for the mark of one namespace.
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

    // The mark, and the list of keys it is checked against, see the namespace at
    // one instant, `viewSeq`. The content keys, usually most of the work, are then
    // checked in slices with the event loop free between them: the view may move on
    // meanwhile, and applying each removal checks it again against the view then.
    let markStarted = performance.now();
    const viewSeq = projection.seq;
    const result = mark({ namespaces: new Map([[name, namespace]]) }, startedNanos);
    const removals = sweepLeasesAndSnapshots(name, namespace, result);
    const digests = [...namespace.content.keys()];
    totals.markMs += performance.now() - markStarted;
    const unreachable: string[] = [];
    for (let start = 0; start < digests.length; start += SWEEP_SLICE) {
      if (start > 0) await yieldToOthers();
      markStarted = performance.now();
      for (const digest of unreachableContent(name, digests.slice(start, start + SWEEP_SLICE), result)) unreachable.push(digest);
      totals.markMs += performance.now() - markStarted;
    }
    if (digests.length > SWEEP_SLICE) await yieldToOthers();
    markStarted = performance.now();
    for (const digest of sortBytes(unreachable)) removals.push({ namespace: name, kind: "content", key: digest });
    totals.markMs += performance.now() - markStarted;
    totals.roots += result.counts.roots;
    totals.marked += result.counts.marked;
    totals.candidates += removals.length;

    // Several events keep each one far below the 1 MiB default max payload;
    // commands interleave with them, and each is re-checked when applied.
    // A collection of a few removals (a synchronous delete's, usually) goes straight on.
    const large = removals.length > REMOVALS_PER_EVENT;
    for (const chunk of chunkRemovals(removals)) {
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
