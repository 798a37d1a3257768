/**
 * Leases and their resources. Lease ids and labels are not validated as identifiers
 * or label sizes, as in containerd, but the API edge caps their sizes.
 * Rules follow containerd v1.7.9 `metadata/leases.go` and `services/leases`.
 */
import type { CommandMeta, Decision, Verdict } from "./decision.js";
import { digestProblem } from "./digest.js";
import { AlreadyExists, InvalidArgument, NotFound, NotImplemented, UnknownError, quote } from "./errors.js";
import { validateMapKeys, withoutEmptyValues, type StringMap } from "./labels.js";
import { compareBytes, sortBytes } from "./order.js";
import { ensureNamespace, type MetadataState, type NamespaceState } from "./state.js";
import type { Timestamp } from "./time.js";
import { lookupMap, type FieldAdaptor } from "../filters/filters.js";

/** A typed reference held by a lease; it may name an object that does not exist. */
export interface LeaseResource {
  /** Digest, ingest ref or snapshot key. */
  id: string;
  /** `content`, `ingests` or `snapshots/<snapshotter>`. */
  type: string;
}

export interface LeaseResources {
  content: ReadonlySet<string>;
  ingests: ReadonlySet<string>;
  /** Snapshot keys per snapshotter name. */
  snapshots: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface Lease {
  /** Any non-empty string. */
  id: string;
  /** Not size-validated; never holds empty values. */
  labels: StringMap;
  createdAt: Timestamp;
  resources: LeaseResources;
}

export type LeaseEvent =
  | { type: "lease.created"; lease: { id: string; labels: StringMap; createdAt: Timestamp } }
  | { type: "lease.deleted"; id: string }
  | { type: "lease.resource.added"; id: string; resource: LeaseResource }
  | { type: "lease.resource.deleted"; id: string; resource: LeaseResource };

export function leaseMissing(): NotFound {
  return new NotFound("lease does not exist");
}

const EMPTY_RESOURCES: LeaseResources = { content: new Set(), ingests: new Set(), snapshots: new Map() };

/**
 * Parse and normalise a resource as containerd's lease manager does. A content id
 * must be a digest; `snapshots` needs exactly one snapshotter segment.
 */
export function parseResource(resource: LeaseResource): LeaseResource {
  const segments = resource.type.split("/");
  switch (segments[0]) {
    case "content":
    case "ingests":
      if (segments.length !== 1) throw new InvalidArgument(`invalid resource type ${resource.type}`);
      if (segments[0] === "content") {
        const problem = digestProblem(resource.id);
        if (problem !== undefined) throw new InvalidArgument(`invalid content resource id ${resource.id}: ${problem}`);
      }
      return resource;
    case "snapshots":
      if (segments.length !== 2) throw new InvalidArgument(`invalid snapshot resource type ${resource.type}`);
      return resource;
    default:
      throw new NotImplemented(`resource type ${resource.type} not supported yet`);
  }
}

function hasResource(lease: Lease, resource: LeaseResource): boolean {
  if (resource.type === "content") return lease.resources.content.has(resource.id);
  if (resource.type === "ingests") return lease.resources.ingests.has(resource.id);
  const snapshotter = resource.type.slice("snapshots/".length);
  return lease.resources.snapshots.get(snapshotter)?.has(resource.id) ?? false;
}

function changeResource(lease: Lease, resource: LeaseResource, add: boolean): Lease {
  const update = (set: ReadonlySet<string> | undefined): Set<string> => {
    const copy = new Set(set);
    if (add) copy.add(resource.id);
    else copy.delete(resource.id);
    return copy;
  };
  const { content, ingests, snapshots } = lease.resources;
  if (resource.type === "content") return { ...lease, resources: { content: update(content), ingests, snapshots } };
  if (resource.type === "ingests") return { ...lease, resources: { content, ingests: update(ingests), snapshots } };
  const snapshotter = resource.type.slice("snapshots/".length);
  const nextSnapshots = new Map(snapshots);
  const keys = update(snapshots.get(snapshotter));
  if (keys.size > 0) nextSnapshots.set(snapshotter, keys);
  else nextSnapshots.delete(snapshotter);
  return { ...lease, resources: { content, ingests, snapshots: nextSnapshots } };
}

/** A copy of the lease holding the resource as well. */
export function withResource(lease: Lease, resource: LeaseResource): Lease {
  return hasResource(lease, resource) ? lease : changeResource(lease, resource, true);
}

/** A copy of the lease without the resource. */
export function withoutResource(lease: Lease, resource: LeaseResource): Lease {
  return hasResource(lease, resource) ? changeResource(lease, resource, false) : lease;
}

/**
 * @param generatedId the id to use when the request has none, made by the handler
 *   in containerd's form `<nanoseconds>-<base64url of 3 random bytes>`
 */
export function decideCreateLease(
  namespace: NamespaceState | undefined,
  input: { id?: string; labels?: StringMap },
  meta: CommandMeta,
  generatedId: string,
): Decision<Lease> {
  const id = input.id || generatedId;
  if (id === "") throw new UnknownError("lease id must be provided");
  if (namespace?.leases.has(id)) throw new AlreadyExists(`lease ${quote(id)}`);
  // After the existence check, because containerd only fails on it when writing the labels.
  validateMapKeys("lease.Labels", "label", input.labels);
  const lease = { id, labels: withoutEmptyValues(input.labels), createdAt: meta.now };
  return { event: { type: "lease.created", lease }, result: { ...lease, resources: EMPTY_RESOURCES } };
}

export function decideDeleteLease(namespace: NamespaceState | undefined, id: string): Decision<void> {
  if (!namespace?.leases.has(id)) throw new NotFound(`lease ${quote(id)}`);
  return { event: { type: "lease.deleted", id }, result: undefined };
}

function getLease(namespace: NamespaceState | undefined, id: string): Lease {
  const lease = namespace?.leases.get(id);
  if (!lease) throw new NotFound(`lease ${quote(id)}`);
  return lease;
}

export function decideAddLeaseResource(
  namespace: NamespaceState | undefined,
  id: string,
  resource: LeaseResource,
): Decision<void> {
  const lease = getLease(namespace, id);
  const parsed = parseResource(resource);
  // Adding a resource the lease already holds changes nothing.
  if (hasResource(lease, parsed)) return { result: undefined };
  return { event: { type: "lease.resource.added", id, resource: parsed }, result: undefined };
}

/** Deleting a resource the lease does not hold still succeeds and still makes GC due. */
export function decideDeleteLeaseResource(
  namespace: NamespaceState | undefined,
  id: string,
  resource: LeaseResource,
): Decision<void> {
  getLease(namespace, id);
  const parsed = parseResource(resource);
  return { event: { type: "lease.resource.deleted", id, resource: parsed }, result: undefined };
}

/** Resources in containerd's order: content, ingests, then snapshots by snapshotter and key. */
export function listLeaseResources(namespace: NamespaceState | undefined, id: string): LeaseResource[] {
  const { resources } = getLease(namespace, id);
  const out: LeaseResource[] = [];
  for (const digest of sortBytes([...resources.content])) out.push({ id: digest, type: "content" });
  for (const ref of sortBytes([...resources.ingests])) out.push({ id: ref, type: "ingests" });
  const snapshotters = [...resources.snapshots.keys()].sort(compareBytes);
  for (const snapshotter of snapshotters) {
    for (const key of sortBytes([...resources.snapshots.get(snapshotter)!])) {
      out.push({ id: key, type: `snapshots/${snapshotter}` });
    }
  }
  return out;
}

export function evolveLease(state: MetadataState, namespaceName: string, event: LeaseEvent): Verdict {
  const existing = state.namespaces.get(namespaceName);
  switch (event.type) {
    case "lease.created": {
      if (existing?.leases.has(event.lease.id)) return { rejected: new AlreadyExists(`lease ${quote(event.lease.id)}`) };
      ensureNamespace(state, namespaceName).leases.set(event.lease.id, { ...event.lease, resources: EMPTY_RESOURCES });
      return { notifications: [] };
    }
    case "lease.deleted": {
      if (!existing?.leases.has(event.id)) return { rejected: new NotFound(`lease ${quote(event.id)}`) };
      existing.leases.delete(event.id);
      return { notifications: [], dirty: true };
    }
    case "lease.resource.added": {
      const lease = existing?.leases.get(event.id);
      if (!lease) return { rejected: new NotFound(`lease ${quote(event.id)}`) };
      existing!.leases.set(event.id, withResource(lease, event.resource));
      return { notifications: [] };
    }
    case "lease.resource.deleted": {
      const lease = existing?.leases.get(event.id);
      if (!lease) return { rejected: new NotFound(`lease ${quote(event.id)}`) };
      existing!.leases.set(event.id, withoutResource(lease, event.resource));
      return { notifications: [], dirty: true };
    }
  }
}

/** Filter fields: `id`, `labels.<key>`. */
export function leaseFields(lease: Lease): FieldAdaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case "id":
        return { value: lease.id, present: lease.id !== "" };
      case "labels":
        return lookupMap(lease.labels, fieldpath.slice(1));
      default:
        return { value: "", present: false };
    }
  };
}
