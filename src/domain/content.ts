/**
 * Content blob records: the metadata of a committed blob in one namespace. The bytes
 * stay with the node agents; ctrmeta keeps digest, size and labels.
 * Rules follow containerd v1.7.9 `metadata/content.go` and `services/content`.
 */
import type { CommandMeta, Decision, Verdict } from "./decision.js";
import { digestProblem } from "./digest.js";
import { AlreadyExists, InvalidArgument, NotFound, quote, statusError } from "./errors.js";
import { copyMap, validateLabels, withoutEmptyValues, type StringMap } from "./labels.js";
import { leaseMissing, withResource, withoutResource } from "./lease.js";
import { ensureNamespace, type MetadataState, type NamespaceState } from "./state.js";
import type { Timestamp } from "./time.js";
import { lookupMap, type FieldAdaptor } from "../filters/filters.js";

export interface ContentInfo {
  /** Key in its namespace. */
  digest: string;
  /** Set on commit, immutable. */
  size: number;
  labels: StringMap;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export type ContentEvent =
  | { type: "content.committed"; info: ContentInfo; lease?: string }
  | { type: "content.updated"; info: ContentInfo }
  | { type: "content.deleted"; digest: string; lease?: string };

/** Validate a digest argument of Info, Update and Delete as the content service does. */
export function validateContentDigest(digest: string): void {
  if (digestProblem(digest) !== undefined) throw statusError("InvalidArgument", `${quote(digest)} failed validation`);
}

/**
 * Record a committed blob (containerd's Write with action COMMIT). Under a lease the
 * digest joins the lease; a digest already recorded still joins it, then fails.
 */
export function decideCommitContent(
  namespace: NamespaceState | undefined,
  input: { digest: string; size: number; labels?: StringMap },
  meta: CommandMeta,
): Decision<ContentInfo> {
  const problem = digestProblem(input.digest);
  if (problem !== undefined) throw new InvalidArgument(`invalid digest ${quote(input.digest)}: ${problem}`);
  if (!Number.isSafeInteger(input.size) || input.size < 0) {
    throw new InvalidArgument(`invalid size ${input.size} for ${input.digest}: must be a non-negative integer`);
  }
  validateLabels("info.Labels", input.labels);
  if (meta.lease !== undefined && !namespace?.leases.has(meta.lease)) throw leaseMissing();

  const existing = namespace?.content.get(input.digest);
  if (existing) {
    const error = new AlreadyExists(`content ${input.digest}`);
    if (meta.lease === undefined) throw error;
    const lease = namespace!.leases.get(meta.lease)!;
    if (lease.resources.content.has(input.digest)) throw error;
    return {
      event: { type: "lease.resource.added", id: meta.lease, resource: { type: "content", id: input.digest } },
      result: existing,
      errorAfterApply: error,
    };
  }

  const info: ContentInfo = {
    digest: input.digest,
    size: input.size,
    labels: withoutEmptyValues(input.labels),
    createdAt: meta.now,
    updatedAt: meta.now,
  };
  const event: ContentEvent = meta.lease === undefined
    ? { type: "content.committed", info }
    : { type: "content.committed", info, lease: meta.lease };
  return { event, result: info };
}

export function getContent(namespace: NamespaceState | undefined, digest: string): ContentInfo {
  validateContentDigest(digest);
  const info = namespace?.content.get(digest);
  if (!info) throw new NotFound(`content digest ${digest}`);
  return info;
}

export function decideUpdateContent(
  namespace: NamespaceState | undefined,
  input: { digest: string; labels?: StringMap },
  paths: readonly string[],
  meta: CommandMeta,
): Decision<ContentInfo> {
  const stored = getContent(namespace, input.digest);
  let labels = copyMap(stored.labels);
  if (paths.length === 0) labels = copyMap(input.labels);
  for (const path of paths) {
    if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      labels[key] = input.labels && Object.hasOwn(input.labels, key) ? input.labels[key]! : "";
      continue;
    }
    if (path !== "labels") {
      throw new InvalidArgument(`cannot update ${quote(path)} field on content info ${quote(input.digest)}`);
    }
    labels = copyMap(input.labels);
  }
  validateLabels("info.Labels", labels);
  const info: ContentInfo = { ...stored, labels: withoutEmptyValues(labels), updatedAt: meta.now };
  return { event: { type: "content.updated", info }, result: info };
}

export function decideDeleteContent(namespace: NamespaceState | undefined, digest: string, meta: CommandMeta): Decision<void> {
  // Delete reports the digest's parse error itself, unlike Info and Update.
  const problem = digestProblem(digest);
  if (problem !== undefined) throw statusError("InvalidArgument", problem);
  if (!namespace?.content.has(digest)) throw new NotFound(`content digest ${digest}`);
  const event: ContentEvent = meta.lease === undefined
    ? { type: "content.deleted", digest }
    : { type: "content.deleted", digest, lease: meta.lease };
  return { event, result: undefined };
}

export function evolveContent(state: MetadataState, namespaceName: string, event: ContentEvent): Verdict {
  const existing = state.namespaces.get(namespaceName);
  switch (event.type) {
    case "content.committed": {
      const lease = event.lease === undefined ? undefined : existing?.leases.get(event.lease);
      if (event.lease !== undefined && !lease) return { rejected: leaseMissing() };
      if (existing?.content.has(event.info.digest)) return { rejected: new AlreadyExists(`content ${event.info.digest}`) };
      const namespace = ensureNamespace(state, namespaceName);
      namespace.content.set(event.info.digest, event.info);
      if (lease) namespace.leases.set(lease.id, withResource(lease, { type: "content", id: event.info.digest }));
      return { notifications: [] };
    }
    case "content.updated": {
      if (!existing?.content.has(event.info.digest)) return { rejected: new NotFound(`content digest ${event.info.digest}`) };
      existing.content.set(event.info.digest, event.info);
      return { notifications: [] };
    }
    case "content.deleted": {
      if (!existing?.content.has(event.digest)) return { rejected: new NotFound(`content digest ${event.digest}`) };
      existing.content.delete(event.digest);
      const lease = event.lease === undefined ? undefined : existing.leases.get(event.lease);
      if (lease) existing.leases.set(lease.id, withoutResource(lease, { type: "content", id: event.digest }));
      return {
        notifications: [{ topic: "/content/delete", type: "containerd.events.ContentDelete", payload: { digest: event.digest } }],
        dirty: true,
      };
    }
  }
}

/** Filter fields: `digest` (always present), `labels.<key>`; `size` is never present. */
export function contentFields(info: ContentInfo): FieldAdaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case "digest":
        return { value: info.digest, present: true };
      case "labels":
        return lookupMap(info.labels, fieldpath.slice(1));
      default:
        return { value: "", present: false };
    }
  };
}
