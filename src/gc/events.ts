/**
 * The event a garbage collection appends: what it removes, decided from a view of
 * the log at `viewSeq` and re-checked when the event is applied.
 */
import type { Timestamp } from "../domain/time.js";

export type GcResourceKind = "content" | "snapshot" | "lease";

export interface GcRemoval {
  namespace: string;
  kind: GcResourceKind;
  /** Digest, snapshot key or lease id. */
  key: string;
  snapshotter?: string;
}

export interface GcCollected {
  type: "gc.collected";
  /** Start of the collection; lease expiry is compared with it. */
  startedAt: Timestamp;
  /** Log sequence of the state the mark ran on. */
  viewSeq: number;
  removals: GcRemoval[];
}

export type GcEvent = GcCollected;
