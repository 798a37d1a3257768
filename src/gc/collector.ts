/**
 * One garbage collection: mark the current view, append the removals as one
 * `gc.collected` event, and wait until the view has applied it. Applying re-checks
 * every removal, so a reference made after the mark keeps its object.
 */
import { randomUUID } from "node:crypto";
import type { CommandHandler } from "../commands/handler.js";
import type { Clock } from "../domain/time.js";
import type { Projection } from "../projections/projection.js";
import type { GcOutcome } from "./evolve.js";
import type { GcRemoval } from "./events.js";
import { mark, sweepCandidates } from "./mark.js";

export interface CollectionStats {
  startedAt: string;
  /** Log sequence of the view that was marked. */
  viewSeq: number;
  /** Log sequence of the appended `gc.collected` event; absent when nothing was removable. */
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

export async function collectGarbage(projection: Projection, commands: CommandHandler, clock: Clock): Promise<CollectionStats> {
  const started = performance.now();
  const startedNanos = clock.nowNanos();
  const startedAt = clock.now();
  const viewSeq = projection.seq;

  const result = mark(projection.state, startedNanos);
  const removals = sweepCandidates(projection.state, result);
  const markMs = performance.now() - started;
  const base = {
    startedAt,
    viewSeq,
    markMs,
    roots: result.counts.roots,
    marked: result.counts.marked,
    candidates: removals.length,
  };
  if (removals.length === 0) {
    return { ...base, durationMs: performance.now() - started, removed: { content: 0, snapshots: 0, leases: 0 }, skipped: 0 };
  }

  const { revision, verdict } = await commands.execute({
    namespace: "",
    requestId: randomUUID(),
    decide: () => ({ event: { type: "gc.collected", startedAt, viewSeq, removals }, result: undefined }),
  });
  const outcome = verdict?.outcome as GcOutcome | undefined;
  return {
    ...base,
    seq: revision,
    durationMs: performance.now() - started,
    removed: countRemoved(outcome?.removed ?? []),
    skipped: outcome?.skipped ?? 0,
  };
}
