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
import { mark, sweepCandidates } from "./mark.js";

/** Most removals per `gc.collected` event. */
export const REMOVALS_PER_EVENT = 1000;
/** Most encoded bytes of removals per event, well under the 1 MiB default max payload. */
const BYTES_PER_EVENT = 256 * 1024;

/** Split removals into chunks bounded by count and by size. */
export function chunkRemovals(removals: readonly GcRemoval[]): GcRemoval[][] {
  const chunks: GcRemoval[][] = [];
  let current: GcRemoval[] = [];
  let bytes = 0;
  for (const removal of removals) {
    const size = 48 + Buffer.byteLength(removal.key) + Buffer.byteLength(removal.namespace) + Buffer.byteLength(removal.snapshotter ?? "");
    if (current.length > 0 && (current.length >= REMOVALS_PER_EVENT || bytes + size > BYTES_PER_EVENT)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(removal);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
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
 * (edges never leave a namespace), and the event loop is free between namespaces,
 * so commands wait at most for the mark of one namespace.
 */
export async function collectGarbage(projection: Projection, commands: CommandHandler, clock: Clock): Promise<CollectionStats> {
  const started = performance.now();
  const startedNanos = clock.nowNanos();
  const startedAt = clock.now();
  const firstViewSeq = projection.seq;
  const totals = { markMs: 0, roots: 0, marked: 0, candidates: 0, skipped: 0, seq: 0 };
  const removed: GcRemoval[] = [];

  for (const name of sortBytes([...projection.state.namespaces.keys()])) {
    await new Promise((resolve) => setImmediate(resolve));
    const namespace = projection.state.namespaces.get(name);
    if (!namespace) continue;

    const markStarted = performance.now();
    const viewSeq = projection.seq;
    const view = { namespaces: new Map([[name, namespace]]) };
    const result = mark(view, startedNanos);
    const removals = sweepCandidates(view, result);
    totals.markMs += performance.now() - markStarted;
    totals.roots += result.counts.roots;
    totals.marked += result.counts.marked;
    totals.candidates += removals.length;

    // Several events keep each one far below the 1 MiB default max payload;
    // commands interleave with them, and each is re-checked when applied.
    for (const chunk of chunkRemovals(removals)) {
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
