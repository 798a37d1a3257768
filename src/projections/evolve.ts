/**
 * Apply one event of the log to the state: the single place that routes every
 * event type to its entity's evolve function.
 */
import { evolveContainer } from "../domain/container.js";
import { evolveContent } from "../domain/content.js";
import type { Verdict } from "../domain/decision.js";
import { evolveImage } from "../domain/image.js";
import { evolveLease } from "../domain/lease.js";
import { evolveNamespace } from "../domain/namespace.js";
import { evolveSnapshot } from "../domain/snapshot.js";
import { recordWrite, type MetadataState, type NamespaceState } from "../domain/state.js";
import { evolveGc } from "../gc/evolve.js";
import type { MetadataEvent } from "../events/types.js";

/** Event types that can only remove objects or references. */
const DELETIONS = new Set<MetadataEvent["type"]>([
  "namespace.deleted",
  "container.deleted",
  "image.deleted",
  "content.deleted",
  "snapshot.removed",
  "lease.deleted",
  "lease.resource.deleted",
  "gc.collected",
]);

/** Apply one event at log sequence `seq`. */
export function evolve(state: MetadataState, namespace: string, event: MetadataEvent, seq: number): Verdict {
  const verdict = route(state, namespace, event);
  if (!verdict.rejected && !DELETIONS.has(event.type)) {
    const written = state.namespaces.get(namespace);
    if (written) {
      written.lastWriteSeq = seq;
      journalWrites(written, event, seq);
    }
  }
  return verdict;
}

/** List the objects a write created or changed, where a new reference can start. */
function journalWrites(namespace: NamespaceState, event: MetadataEvent, seq: number): void {
  switch (event.type) {
    case "container.created":
    case "container.updated":
      recordWrite(namespace, { seq, kind: "container", key: event.container.id });
      break;
    case "image.created":
    case "image.updated":
      recordWrite(namespace, { seq, kind: "image", key: event.image.name });
      break;
    case "content.committed":
    case "content.updated":
      recordWrite(namespace, { seq, kind: "content", key: event.info.digest });
      if ("lease" in event && event.lease !== undefined) recordWrite(namespace, { seq, kind: "lease", key: event.lease });
      break;
    case "snapshot.prepared":
    case "snapshot.committed":
    case "snapshot.updated":
      recordWrite(namespace, { seq, kind: "snapshot", key: event.snapshot.name, snapshotter: event.snapshot.snapshotter });
      if ("lease" in event && event.lease !== undefined) recordWrite(namespace, { seq, kind: "lease", key: event.lease });
      break;
    case "lease.created":
      recordWrite(namespace, { seq, kind: "lease", key: event.lease.id });
      break;
    case "lease.resource.added":
      recordWrite(namespace, { seq, kind: "lease", key: event.id });
      break;
    default:
      // Namespace events hold no references.
      break;
  }
}

function route(state: MetadataState, namespace: string, event: MetadataEvent): Verdict {
  switch (event.type) {
    case "namespace.created":
    case "namespace.updated":
    case "namespace.deleted":
      return evolveNamespace(state, event);
    case "container.created":
    case "container.updated":
    case "container.deleted":
      return evolveContainer(state, namespace, event);
    case "image.created":
    case "image.updated":
    case "image.deleted":
      return evolveImage(state, namespace, event);
    case "content.committed":
    case "content.updated":
    case "content.deleted":
      return evolveContent(state, namespace, event);
    case "snapshot.prepared":
    case "snapshot.committed":
    case "snapshot.updated":
    case "snapshot.removed":
      return evolveSnapshot(state, namespace, event);
    case "lease.created":
    case "lease.deleted":
    case "lease.resource.added":
    case "lease.resource.deleted":
      return evolveLease(state, namespace, event);
    case "gc.collected":
      return evolveGc(state, event);
    default: {
      const unknown: never = event;
      throw new Error(`unknown event type ${(unknown as { type: string }).type}`);
    }
  }
}
