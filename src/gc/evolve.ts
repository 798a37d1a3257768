/**
 * Apply a garbage collection: remove each candidate that is still unreachable when
 * the event reaches its place in the log. A reference created after the collector
 * took its view (a new image on a blob, a resource added to a lease) therefore
 * keeps its object, and the removal of that object is skipped.
 */
import type { Notification, Verdict } from "../domain/decision.js";
import { deleteSnapshotRecord } from "../domain/snapshot.js";
import { writesAfter, type MetadataState } from "../domain/state.js";
import { parseRfc3339 } from "../domain/time.js";
import type { GcCollected, GcRemoval } from "./events.js";
import { mark, markFromWrites, type GcNode, type MarkResult } from "./mark.js";

export interface GcOutcome {
  removed: GcRemoval[];
  /** Candidates that became reachable or disappeared before the event applied. */
  skipped: number;
  /** Namespaces that needed a mark of all their objects to tell which candidates stay. */
  wholeMarks: number;
}

export function evolveGc(state: MetadataState, event: GcCollected): Verdict {
  const now = parseRfc3339(event.startedAt) ?? 0n;
  const checks = new Map<string, ReachabilityCheck | undefined>();
  const counter = { wholeMarks: 0 };
  const reachable = (node: GcNode): boolean => {
    if (!checks.has(node.namespace)) checks.set(node.namespace, reachabilityCheck(state, node.namespace, event.viewSeq, now, counter));
    return checks.get(node.namespace)?.(node) ?? false;
  };

  const removed: GcRemoval[] = [];
  const notifications: Notification[] = [];
  let skipped = 0;

  for (const removal of event.removals) {
    const namespace = state.namespaces.get(removal.namespace);
    const node = { kind: removal.kind, namespace: removal.namespace, key: removal.key, snapshotter: removal.snapshotter };
    if (!namespace || reachable(node)) {
      skipped++;
      continue;
    }
    switch (removal.kind) {
      case "content":
        if (!namespace.content.delete(removal.key)) {
          skipped++;
          continue;
        }
        notifications.push({
          namespace: removal.namespace,
          topic: "/content/delete",
          type: "containerd.events.ContentDelete",
          payload: { digest: removal.key, gc: true },
        });
        break;
      case "snapshot": {
        const snapshotter = removal.snapshotter ?? "";
        if (!namespace.snapshots.get(snapshotter)?.has(removal.key)) {
          skipped++;
          continue;
        }
        // NOTE: a child prepared after the view and itself unreachable does not stop
        // this removal, and is left with a missing parent until the next collection.
        deleteSnapshotRecord(namespace, snapshotter, removal.key);
        notifications.push({
          namespace: removal.namespace,
          topic: "/snapshot/remove",
          type: "containerd.events.SnapshotRemove",
          payload: { key: removal.key, snapshotter, gc: true },
        });
        break;
      }
      case "lease":
        if (!namespace.leases.delete(removal.key)) {
          skipped++;
          continue;
        }
        notifications.push({
          namespace: removal.namespace,
          topic: "/leases/delete",
          type: "ctrmeta.events.LeaseDelete",
          payload: { id: removal.key, gc: true },
        });
        break;
    }
    removed.push(removal);
  }
  const outcome: GcOutcome = { removed, skipped, wholeMarks: counter.wholeMarks };
  return { notifications, outcome };
}

type ReachabilityCheck = (node: GcNode) => boolean;

/**
 * Build the check of whether a candidate of one namespace has become reachable
 * since the view at `viewSeq`, or return undefined when none can have. Edges never
 * leave a namespace, so a namespace is checked alone. Only writes (not deletions)
 * add references, so a namespace without writes since the view needs no check.
 * Otherwise the marks from the objects written since the view settle most
 * candidates (see `markFromWrites`). A mark of the whole namespace settles the
 * rest, or all of them when the write journal no longer reaches back to the view.
 */
function reachabilityCheck(
  state: MetadataState,
  name: string,
  viewSeq: number,
  now: bigint,
  counter: { wholeMarks: number },
): ReachabilityCheck | undefined {
  const namespace = state.namespaces.get(name);
  if (!namespace || namespace.lastWriteSeq <= viewSeq) return undefined;
  let whole: MarkResult | undefined;
  const markWhole = (): MarkResult => {
    if (whole === undefined) {
      counter.wholeMarks++;
      whole = mark({ namespaces: new Map([[name, namespace]]) }, now);
    }
    return whole;
  };
  const written = writesAfter(namespace, viewSeq);
  if (written === undefined) return (node) => markWhole().isReachable(node);
  const { rooted, loose } = markFromWrites(name, namespace, written, now);
  return (node) => {
    if (rooted.isReachable(node)) return true;
    if (!loose.isReachable(node)) return false;
    return markWhole().isReachable(node);
  };
}
