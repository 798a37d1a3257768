/**
 * Namespaces: explicit create, label updates and delete-when-empty.
 * Rules follow containerd v1.7.9 `metadata/namespaces.go` and `services/namespaces`,
 * with ctrmeta's departures: an invalid name on update or delete is rejected before
 * anything is written, and label errors on update are InvalidArgument, not Unknown.
 */
import type { Decision, Verdict } from "./decision.js";
import { AlreadyExists, FailedPrecondition, MetadataError, NotFound, quote, statusError } from "./errors.js";
import { validateIdentifier } from "./identifiers.js";
import { copyMap, validateLabel, validateLabels, withoutEmptyValues, type StringMap } from "./labels.js";
import { sortBytes } from "./order.js";
import { ensureNamespace, type MetadataState, type NamespaceState } from "./state.js";

export interface NamespaceRecord {
  name: string;
  labels: StringMap;
}

export type NamespaceEvent =
  | { type: "namespace.created"; name: string; labels: StringMap; requestLabels: StringMap }
  | {
      type: "namespace.updated";
      name: string;
      /** Labels after the update. */
      labels: StringMap;
      /** Labels of the request, which the notification carries. */
      requestLabels: StringMap;
      /** False when the update wrote nothing, so it must not create the namespace. */
      wrote: boolean;
    }
  | { type: "namespace.deleted"; name: string };

export function decideCreateNamespace(
  state: MetadataState,
  name: string,
  labels: StringMap | undefined,
): Decision<NamespaceRecord> {
  validateIdentifier(name);
  validateLabels("namespace.Labels", labels);
  if (state.namespaces.has(name)) throw new AlreadyExists(`namespace ${quote(name)}`);
  const requestLabels = copyMap(labels);
  return {
    event: { type: "namespace.created", name, labels: withoutEmptyValues(labels), requestLabels },
    // containerd echoes the request, empty values included.
    result: { name, labels: requestLabels },
  };
}

/** Get never fails: a missing namespace reads as the requested name with no labels. */
export function getNamespace(state: MetadataState, name: string): NamespaceRecord {
  return { name, labels: copyMap(state.namespaces.get(name)?.labels) };
}

export function listNamespaces(state: MetadataState): NamespaceRecord[] {
  return sortBytes([...state.namespaces.keys()]).map((name) => getNamespace(state, name));
}

function validateLabelForNamespace(key: string, value: string): void {
  try {
    validateLabel(key, value);
  } catch (error) {
    throw (error as MetadataError).wrap("namespace.Labels");
  }
}

export function decideUpdateNamespace(
  state: MetadataState,
  name: string,
  labels: StringMap | undefined,
  paths: readonly string[],
): Decision<void> {
  validateIdentifier(name);
  const request = copyMap(labels);
  const current = copyMap(state.namespaces.get(name)?.labels);
  let result: StringMap;
  let wrote: boolean;

  if (paths.length > 0) {
    result = current;
    for (const path of paths) {
      if (!path.startsWith("labels.")) throw statusError("InvalidArgument", `cannot update ${quote(path)} field`);
      const key = path.slice("labels.".length);
      const value = Object.hasOwn(request, key) ? request[key]! : "";
      validateLabelForNamespace(key, value);
      if (value === "") delete result[key];
      else result[key] = value;
    }
    wrote = true;
  } else {
    for (const key of Object.keys(request)) validateLabelForNamespace(key, request[key]!);
    result = withoutEmptyValues(request);
    // Clearing labels that do not exist and setting none writes nothing.
    wrote = Object.keys(current).length > 0 || Object.keys(request).length > 0;
  }

  return {
    event: { type: "namespace.updated", name, labels: result, requestLabels: request, wrote },
    result: undefined,
  };
}

/** What still holds a namespace, in containerd's order, or an empty list. */
export function namespaceContents(namespace: NamespaceState): string[] {
  const kinds: string[] = [];
  if (namespace.images.size > 0) kinds.push("images");
  if (namespace.content.size > 0) kinds.push("blobs");
  if (namespace.containers.size > 0) kinds.push("containers");
  for (const snapshotter of sortBytes([...namespace.snapshots.keys()])) {
    if ((namespace.snapshots.get(snapshotter)?.size ?? 0) > 0) kinds.push(`snapshots on ${quote(snapshotter)} snapshotter`);
  }
  return kinds;
}

function notEmptyError(name: string, kinds: string[]): FailedPrecondition {
  return new FailedPrecondition(`namespace ${quote(name)} must be empty, but it still has ${kinds.join(", ")}`);
}

export function decideDeleteNamespace(state: MetadataState, name: string): Decision<void> {
  validateIdentifier(name);
  const namespace = state.namespaces.get(name);
  if (namespace) {
    const kinds = namespaceContents(namespace);
    if (kinds.length > 0) throw notEmptyError(name, kinds);
  }
  if (!namespace) throw new NotFound(`namespace ${quote(name)}`);
  return { event: { type: "namespace.deleted", name }, result: undefined };
}

export function evolveNamespace(state: MetadataState, event: NamespaceEvent): Verdict {
  switch (event.type) {
    case "namespace.created": {
      if (state.namespaces.has(event.name)) return { rejected: new AlreadyExists(`namespace ${quote(event.name)}`) };
      ensureNamespace(state, event.name).labels = copyMap(event.labels);
      return {
        notifications: [
          { topic: "/namespaces/create", type: "containerd.events.NamespaceCreate", payload: { name: event.name, labels: event.requestLabels } },
        ],
      };
    }
    case "namespace.updated": {
      if (event.wrote) ensureNamespace(state, event.name).labels = copyMap(event.labels);
      return {
        notifications: [
          { topic: "/namespaces/update", type: "containerd.events.NamespaceUpdate", payload: { name: event.name, labels: event.requestLabels } },
        ],
      };
    }
    case "namespace.deleted": {
      const namespace = state.namespaces.get(event.name);
      if (namespace) {
        // A write that reached the log after the delete was decided keeps the namespace.
        const kinds = namespaceContents(namespace);
        if (kinds.length > 0) return { rejected: notEmptyError(event.name, kinds) };
      }
      if (!namespace) return { rejected: new NotFound(`namespace ${quote(event.name)}`) };
      state.namespaces.delete(event.name);
      return { notifications: [{ topic: "/namespaces/delete", type: "containerd.events.NamespaceDelete", payload: { name: event.name } }] };
    }
  }
}
