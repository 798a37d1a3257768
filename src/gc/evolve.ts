/**
 * Apply a garbage collection: remove each candidate that is still unreachable when
 * the event reaches its place in the log. A reference created after the collector
 * took its view (a new image on a blob, a resource added to a lease) therefore
 * keeps its object, and the removal of that object is skipped.
 */
import type { Notification, Verdict } from "../domain/decision.js";
import { deleteSnapshotRecord } from "../domain/snapshot.js";
import type { MetadataState, NamespaceState } from "../domain/state.js";
import { parseRfc3339 } from "../domain/time.js";
import type { GcCollected, GcRemoval } from "./events.js";
import { mark, type GcNode } from "./mark.js";

export interface GcOutcome {
  removed: GcRemoval[];
  /** Candidates that became reachable or disappeared before the event applied. */
  skipped: number;
}

export function evolveGc(state: MetadataState, event: GcCollected): Verdict {
  const now = parseRfc3339(event.startedAt) ?? 0n;
  // A namespace written to since the view may hold new references: mark it again
  // (edges never leave a namespace, so marking it alone is exact). In one that was
  // only deleted from, nothing can have become reachable since the view's mark.
  const remark = new Map<string, NamespaceState>();
  for (const removal of event.removals) {
    const namespace = state.namespaces.get(removal.namespace);
    if (namespace && namespace.lastWriteSeq > event.viewSeq) remark.set(removal.namespace, namespace);
  }
  const result = remark.size > 0 ? mark({ namespaces: remark }, now) : undefined;
  const reachable = (node: GcNode) => remark.has(node.namespace) && result!.isReachable(node);

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
  const outcome: GcOutcome = { removed, skipped };
  return { notifications, outcome };
}
