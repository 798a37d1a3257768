/**
 * Snapshot records: prepare, view, commit, update and remove as metadata. The
 * snapshotter backends stay with the node agents.
 * Rules follow containerd v1.7.9 `metadata/snapshot.go` and `snapshots/storage`.
 */
import type { CommandMeta, Decision, Verdict } from "./decision.js";
import { AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, quote, statusError } from "./errors.js";
import { copyMap, validateLabels, withoutEmptyValues, type StringMap } from "./labels.js";
import { leaseMissing, withResource, withoutResource, type Lease } from "./lease.js";
import { sortBytes } from "./order.js";
import { ensureNamespace, type MetadataState, type NamespaceState } from "./state.js";
import type { Timestamp } from "./time.js";
import { lookupMap, type FieldAdaptor } from "../filters/filters.js";

export type SnapshotKind = "active" | "view" | "committed";

export interface Snapshot {
  snapshotter: string;
  /** Key, unique per namespace and snapshotter. */
  name: string;
  /** Key of the parent in the same snapshotter, or "". */
  parent: string;
  kind: SnapshotKind;
  labels: StringMap;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export type SnapshotEvent =
  | { type: "snapshot.prepared"; snapshot: Snapshot; lease?: string }
  | { type: "snapshot.committed"; key: string; snapshot: Snapshot; lease?: string }
  | { type: "snapshot.updated"; snapshot: Snapshot }
  | { type: "snapshot.removed"; snapshotter: string; key: string; lease?: string };

/** Label naming a committed snapshot to share instead of preparing a new one. */
const SNAPSHOT_REF_LABEL = "containerd.io/snapshot.ref";

function notExist(key: string): NotFound {
  return new NotFound(`snapshot ${key} does not exist`);
}

/** Reject a snapshotter name that is not configured, as containerd does for an unloaded one. */
export function validateSnapshotter(name: string, configured: ReadonlySet<string>): void {
  if (!configured.has(name)) throw new InvalidArgument(`snapshotter not loaded: ${name}`);
}

function snapshotOf(namespace: NamespaceState | undefined, snapshotter: string, key: string): Snapshot | undefined {
  return namespace?.snapshots.get(snapshotter)?.get(key);
}

function withLease<E extends SnapshotEvent>(event: E, lease: string | undefined): E {
  return lease === undefined ? event : { ...event, lease };
}

/** Check a new snapshot's parent; returns the error to raise, if any. */
function parentProblem(namespace: NamespaceState | undefined, snapshotter: string, parent: string) {
  if (parent === "") return undefined;
  const record = snapshotOf(namespace, snapshotter, parent);
  if (!record) return new NotFound(`parent snapshot ${parent} does not exist`);
  if (record.kind !== "committed") return new InvalidArgument(`parent ${quote(parent)} is not committed snapshot`);
  return undefined;
}

export function decideCreateSnapshot(
  namespace: NamespaceState | undefined,
  input: { snapshotter: string; key: string; parent?: string; labels?: StringMap; kind: "active" | "view" },
  meta: CommandMeta,
): Decision<Snapshot> {
  const { snapshotter, key, kind } = input;
  const parent = input.parent ?? "";
  validateLabels("info.Labels", input.labels);
  const target = input.labels?.[SNAPSHOT_REF_LABEL];
  if (target && snapshotOf(namespace, snapshotter, target)) throw new AlreadyExists(`target snapshot ${quote(target)}`);
  if (snapshotOf(namespace, snapshotter, key)) throw new AlreadyExists(`snapshot ${quote(key)}`);
  const problem = parentProblem(namespace, snapshotter, parent);
  if (problem) throw problem;
  if (meta.lease !== undefined && !namespace?.leases.has(meta.lease)) throw leaseMissing();

  const snapshot: Snapshot = {
    snapshotter,
    name: key,
    parent,
    kind,
    labels: withoutEmptyValues(input.labels),
    createdAt: meta.now,
    updatedAt: meta.now,
  };
  return { event: withLease<SnapshotEvent>({ type: "snapshot.prepared", snapshot }, meta.lease), result: snapshot };
}

export function decideCommitSnapshot(
  namespace: NamespaceState | undefined,
  input: { snapshotter: string; name: string; key: string; labels?: StringMap },
  meta: CommandMeta,
): Decision<Snapshot> {
  const { snapshotter, name, key } = input;
  validateLabels("info.Labels", input.labels);
  if (!namespace?.snapshots.has(snapshotter)) throw new NotFound(`can not find snapshotter ${quote(snapshotter)}`);
  if (snapshotOf(namespace, snapshotter, name)) throw new AlreadyExists(`snapshot ${quote(name)}`);
  if (meta.lease !== undefined && !namespace.leases.has(meta.lease)) throw leaseMissing();
  const active = snapshotOf(namespace, snapshotter, key);
  if (!active) throw notExist(key);
  if (active.kind !== "active") throw new FailedPrecondition(`snapshot ${quote(key)} is not active`);

  const snapshot: Snapshot = {
    snapshotter,
    name,
    parent: active.parent,
    kind: "committed",
    labels: withoutEmptyValues(input.labels),
    createdAt: meta.now,
    updatedAt: meta.now,
  };
  return { event: withLease<SnapshotEvent>({ type: "snapshot.committed", key, snapshot }, meta.lease), result: snapshot };
}

export function getSnapshot(namespace: NamespaceState | undefined, snapshotter: string, key: string): Snapshot {
  const snapshot = snapshotOf(namespace, snapshotter, key);
  if (!snapshot) throw notExist(key);
  return snapshot;
}

export function decideUpdateSnapshot(
  namespace: NamespaceState | undefined,
  snapshotter: string,
  input: { name: string; labels?: StringMap },
  paths: readonly string[],
  meta: CommandMeta,
): Decision<Snapshot> {
  if (input.name === "") throw statusError("InvalidArgument", "invalid argument");
  const stored = getSnapshot(namespace, snapshotter, input.name);
  let labels = copyMap(stored.labels);
  if (paths.length === 0) labels = copyMap(input.labels);
  for (const path of paths) {
    if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      labels[key] = input.labels && Object.hasOwn(input.labels, key) ? input.labels[key]! : "";
      continue;
    }
    if (path !== "labels") throw new InvalidArgument(`cannot update ${quote(path)} field on snapshot ${quote(input.name)}`);
    labels = copyMap(input.labels);
  }
  validateLabels("info.Labels", labels);
  const snapshot: Snapshot = { ...stored, labels: withoutEmptyValues(labels), updatedAt: meta.now };
  return { event: { type: "snapshot.updated", snapshot }, result: snapshot };
}

function childrenOf(namespace: NamespaceState | undefined, snapshotter: string, key: string): ReadonlySet<string> | undefined {
  return namespace?.snapshotChildren.get(snapshotter)?.get(key);
}

export function decideRemoveSnapshot(
  namespace: NamespaceState | undefined,
  snapshotter: string,
  key: string,
  meta: CommandMeta,
): Decision<void> {
  getSnapshot(namespace, snapshotter, key);
  if ((childrenOf(namespace, snapshotter, key)?.size ?? 0) > 0) {
    throw new FailedPrecondition("cannot remove snapshot with child");
  }
  return { event: withLease<SnapshotEvent>({ type: "snapshot.removed", snapshotter, key }, meta.lease), result: undefined };
}

/** Snapshot records of one snapshotter in byte order of key. */
export function listSnapshots(namespace: NamespaceState | undefined, snapshotter: string): Snapshot[] {
  const records = namespace?.snapshots.get(snapshotter);
  if (!records) return [];
  return sortBytes([...records.keys()]).map((key) => records.get(key)!);
}

function link(namespace: NamespaceState, snapshotter: string, parent: string, child: string): void {
  if (parent === "") return;
  let byParent = namespace.snapshotChildren.get(snapshotter);
  if (!byParent) namespace.snapshotChildren.set(snapshotter, (byParent = new Map()));
  let children = byParent.get(parent);
  if (!children) byParent.set(parent, (children = new Set()));
  children.add(child);
}

function unlink(namespace: NamespaceState, snapshotter: string, parent: string, child: string): void {
  const byParent = namespace.snapshotChildren.get(snapshotter);
  const children = byParent?.get(parent);
  if (!children) return;
  children.delete(child);
  if (children.size === 0) byParent!.delete(parent);
}

function put(namespace: NamespaceState, snapshot: Snapshot): void {
  let records = namespace.snapshots.get(snapshot.snapshotter);
  if (!records) namespace.snapshots.set(snapshot.snapshotter, (records = new Map()));
  records.set(snapshot.name, snapshot);
}

/** Delete a record and its link to its parent; the snapshotter entry goes when empty. */
export function deleteSnapshotRecord(namespace: NamespaceState, snapshotter: string, key: string): void {
  const records = namespace.snapshots.get(snapshotter);
  const record = records?.get(key);
  if (!record) return;
  records!.delete(key);
  unlink(namespace, snapshotter, record.parent, key);
  if (records!.size === 0) namespace.snapshots.delete(snapshotter);
}

function updateLease(namespace: NamespaceState, id: string | undefined, change: (lease: Lease) => Lease): void {
  if (id === undefined) return;
  const lease = namespace.leases.get(id);
  if (lease) namespace.leases.set(id, change(lease));
}

export function evolveSnapshot(state: MetadataState, namespaceName: string, event: SnapshotEvent): Verdict {
  const existing = state.namespaces.get(namespaceName);
  switch (event.type) {
    case "snapshot.prepared": {
      const { snapshot } = event;
      if (event.lease !== undefined && !existing?.leases.has(event.lease)) return { rejected: leaseMissing() };
      if (snapshotOf(existing, snapshot.snapshotter, snapshot.name)) {
        return { rejected: new AlreadyExists(`snapshot ${quote(snapshot.name)}`) };
      }
      const problem = parentProblem(existing, snapshot.snapshotter, snapshot.parent);
      if (problem) return { rejected: problem };
      const namespace = ensureNamespace(state, namespaceName);
      put(namespace, snapshot);
      link(namespace, snapshot.snapshotter, snapshot.parent, snapshot.name);
      const type = `snapshots/${snapshot.snapshotter}`;
      updateLease(namespace, event.lease, (lease) => withResource(lease, { type, id: snapshot.name }));
      if (snapshot.kind === "view") return { notifications: [] };
      const { name: key, parent, snapshotter } = snapshot;
      return { notifications: [{ topic: "/snapshot/prepare", type: "containerd.events.SnapshotPrepare", payload: { key, parent, snapshotter } }] };
    }
    case "snapshot.committed": {
      const { snapshot, key } = event;
      const { snapshotter, name } = snapshot;
      if (event.lease !== undefined && !existing?.leases.has(event.lease)) return { rejected: leaseMissing() };
      if (snapshotOf(existing, snapshotter, name)) return { rejected: new AlreadyExists(`snapshot ${quote(name)}`) };
      const active = snapshotOf(existing, snapshotter, key);
      if (!active) return { rejected: notExist(key) };
      if (active.kind !== "active") return { rejected: new FailedPrecondition(`snapshot ${quote(key)} is not active`) };
      const namespace = existing!;
      const children = childrenOf(namespace, snapshotter, key);
      deleteSnapshotRecord(namespace, snapshotter, key);
      put(namespace, { ...snapshot, parent: active.parent });
      link(namespace, snapshotter, active.parent, name);
      // An active snapshot has no children, but keep any link rather than lose it.
      for (const child of children ?? []) link(namespace, snapshotter, name, child);
      const type = `snapshots/${snapshotter}`;
      updateLease(namespace, event.lease, (lease) => withoutResource(withResource(lease, { type, id: name }), { type, id: key }));
      return { notifications: [{ topic: "/snapshot/commit", type: "containerd.events.SnapshotCommit", payload: { key, name, snapshotter } }] };
    }
    case "snapshot.updated": {
      const { snapshot } = event;
      if (!snapshotOf(existing, snapshot.snapshotter, snapshot.name)) return { rejected: notExist(snapshot.name) };
      put(existing!, snapshot);
      return { notifications: [] };
    }
    case "snapshot.removed": {
      const { snapshotter, key } = event;
      if (!snapshotOf(existing, snapshotter, key)) return { rejected: notExist(key) };
      if ((childrenOf(existing, snapshotter, key)?.size ?? 0) > 0) {
        return { rejected: new FailedPrecondition("cannot remove snapshot with child") };
      }
      deleteSnapshotRecord(existing!, snapshotter, key);
      updateLease(existing!, event.lease, (lease) => withoutResource(lease, { type: `snapshots/${snapshotter}`, id: key }));
      return {
        notifications: [{ topic: "/snapshot/remove", type: "containerd.events.SnapshotRemove", payload: { key, snapshotter } }],
        dirty: true,
      };
    }
  }
}

/** Filter fields: `kind`, `name` and `parent` (always present), `labels.<key>`. */
export function snapshotFields(snapshot: Snapshot): FieldAdaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case "kind":
        return { value: snapshot.kind, present: true };
      case "name":
        return { value: snapshot.name, present: true };
      case "parent":
        return { value: snapshot.parent, present: true };
      case "labels":
        return lookupMap(snapshot.labels, fieldpath.slice(1));
      default:
        return { value: "", present: false };
    }
  };
}
