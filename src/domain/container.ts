/**
 * Containers: records, validation, update field paths, events and their effect on state.
 * Rules follow containerd v1.7.9 `metadata/containers.go` and `services/containers`.
 */
import type { AnyValue } from "./any.js";
import type { Decision, CommandMeta, Verdict } from "./decision.js";
import { AlreadyExists, InvalidArgument, MetadataError, NotFound, quote, statusError } from "./errors.js";
import { validateIdentifier } from "./identifiers.js";
import { copyMap, emptyMap, validateLabels, withoutEmptyValues, type StringMap } from "./labels.js";
import { ensureNamespace, type MetadataState, type NamespaceState } from "./state.js";
import type { Timestamp } from "./time.js";
import type { FieldAdaptor } from "../filters/filters.js";
import { lookupMap } from "../filters/filters.js";

export interface Runtime {
  /** Required, immutable. */
  name: string;
  /** Optional; stored on create and silently kept by every update. */
  options?: AnyValue;
}

export interface Container {
  /** Required identifier, unique in its namespace, immutable. */
  id: string;
  /** Mutable; never holds empty values. */
  labels: StringMap;
  /** Mutable free text, never checked against the image store. */
  image: string;
  runtime: Runtime;
  /** Required (an OCI runtime spec as JSON), mutable. */
  spec?: AnyValue;
  /** Optional, immutable. */
  snapshotter: string;
  /** Optional, mutable; requires `snapshotter`. */
  snapshotKey: string;
  /** Mutable but merge-only: a write never removes a stored key. */
  extensions: Record<string, AnyValue>;
  /** Sandbox id (containerd 1.7); silently immutable. */
  sandbox: string;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

/** A container as a client sends it: every field optional. */
export interface ContainerInput {
  id?: string;
  labels?: StringMap;
  image?: string;
  runtime?: { name?: string; options?: AnyValue };
  spec?: AnyValue;
  snapshotter?: string;
  snapshotKey?: string;
  extensions?: Record<string, AnyValue>;
  sandbox?: string;
}

export type ContainerEvent =
  | { type: "container.created"; container: Container }
  | { type: "container.updated"; container: Container }
  | { type: "container.deleted"; id: string };

/** Paths a container update mask may name, besides `labels.<key>` and `extensions.<key>`. */
const UPDATABLE_PATHS = new Set(["labels", "spec", "extensions", "image", "snapshotkey"]);
const FULL_REPLACE_PATHS = ["labels", "spec", "extensions", "image", "snapshotkey"];

function validateContainer(container: Container | (ContainerInput & { labels?: StringMap })): void {
  try {
    validateIdentifier(container.id ?? "");
  } catch (error) {
    throw (error as MetadataError).wrap("container.ID");
  }
  for (const key of Object.keys(container.extensions ?? {})) {
    if (key === "") throw new InvalidArgument("container.Extension keys must not be zero-length");
  }
  validateLabels("containers.Labels", container.labels);
  if (!container.runtime?.name) throw new InvalidArgument("container.Runtime.Name must be set");
  if (container.spec === undefined) throw new InvalidArgument("container.Spec must be set");
  if (container.snapshotKey && !container.snapshotter) {
    throw new InvalidArgument("container.Snapshotter must be set if container.SnapshotKey is set");
  }
}

function copyExtensions(source: Record<string, AnyValue> | undefined): Record<string, AnyValue> {
  const out = emptyMap<AnyValue>();
  for (const key of Object.keys(source ?? {})) out[key] = source![key]!;
  return out;
}

export function decideCreateContainer(
  namespace: NamespaceState | undefined,
  input: ContainerInput,
  meta: CommandMeta,
): Decision<Container> {
  try {
    validateContainer(input);
  } catch (error) {
    throw (error as MetadataError).wrap("create container failed validation");
  }
  const id = input.id!;
  if (namespace?.containers.has(id)) throw new AlreadyExists(`container ${quote(id)}`);

  const container: Container = {
    id,
    labels: withoutEmptyValues(input.labels),
    image: input.image ?? "",
    runtime: input.runtime?.options
      ? { name: input.runtime.name!, options: input.runtime.options }
      : { name: input.runtime!.name! },
    spec: input.spec,
    snapshotter: input.snapshotter ?? "",
    snapshotKey: input.snapshotKey ?? "",
    extensions: copyExtensions(input.extensions),
    sandbox: input.sandbox ?? "",
    createdAt: meta.now,
    updatedAt: meta.now,
  };
  return { event: { type: "container.created", container }, result: container };
}

/**
 * Apply an update. Returns the record to store and the record to reply with: they
 * differ only in `extensions`, which containerd writes merge-only but echoes as applied.
 */
export function decideUpdateContainer(
  namespace: NamespaceState | undefined,
  input: ContainerInput,
  paths: readonly string[],
  meta: CommandMeta,
): Decision<Container> {
  const id = input.id ?? "";
  if (id === "") throw statusError("InvalidArgument", "Container.ID required");
  if (!namespace?.hasContainerBucket) {
    throw new NotFound(`cannot update container ${quote(id)} in namespace ${quote(meta.namespace)}`);
  }
  const stored = namespace.containers.get(id);
  if (!stored) throw new NotFound(`container ${quote(id)}`);

  const updated: Container = { ...stored, labels: copyMap(stored.labels), extensions: copyExtensions(stored.extensions) };
  let fieldPaths = paths;
  if (fieldPaths.length === 0) {
    fieldPaths = FULL_REPLACE_PATHS;
    if ((input.snapshotter ?? "") !== stored.snapshotter) {
      throw new InvalidArgument("container.Snapshotter field is immutable");
    }
    if ((input.runtime?.name ?? "") !== stored.runtime.name) {
      throw new InvalidArgument("container.Runtime.Name field is immutable");
    }
  }

  for (const path of fieldPaths) {
    if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      updated.labels[key] = input.labels && Object.hasOwn(input.labels, key) ? input.labels[key]! : "";
      continue;
    }
    if (path.startsWith("extensions.")) {
      const key = path.slice("extensions.".length);
      // A key missing from the input is a no-op rather than an empty Any.
      if (input.extensions && Object.hasOwn(input.extensions, key)) {
        updated.extensions[key] = input.extensions[key]!;
      } else if (key === "") {
        updated.extensions[key] = { typeUrl: "", value: new Uint8Array() };
      }
      continue;
    }
    if (!UPDATABLE_PATHS.has(path)) {
      throw new InvalidArgument(`cannot update ${quote(path)} field on ${quote(id)}`);
    }
    switch (path) {
      case "labels":
        updated.labels = copyMap(input.labels);
        break;
      case "spec":
        updated.spec = input.spec;
        break;
      case "extensions":
        updated.extensions = copyExtensions(input.extensions);
        break;
      case "image":
        updated.image = input.image ?? "";
        break;
      case "snapshotkey":
        updated.snapshotKey = input.snapshotKey ?? "";
        break;
    }
  }

  try {
    validateContainer(updated);
  } catch (error) {
    throw (error as MetadataError).wrap("update failed validation");
  }

  const reply: Container = { ...updated, labels: withoutEmptyValues(updated.labels), updatedAt: meta.now };
  const toStore: Container = {
    ...reply,
    extensions: mergeExtensions(stored.extensions, updated.extensions),
  };
  return { event: { type: "container.updated", container: toStore }, result: reply };
}

/** containerd writes extensions key by key and never deletes a stored key. */
function mergeExtensions(stored: Record<string, AnyValue>, applied: Record<string, AnyValue>): Record<string, AnyValue> {
  const merged = copyExtensions(stored);
  for (const key of Object.keys(applied)) merged[key] = applied[key]!;
  return merged;
}

export function decideDeleteContainer(
  namespace: NamespaceState | undefined,
  id: string,
  meta: CommandMeta,
): Decision<void> {
  if (!namespace?.hasContainerBucket) {
    throw new NotFound(`cannot delete container ${quote(id)} in namespace ${quote(meta.namespace)}`);
  }
  if (!namespace.containers.has(id)) throw new NotFound(`container ${id}`);
  return { event: { type: "container.deleted", id }, result: undefined };
}

export function getContainer(namespace: NamespaceState | undefined, id: string, namespaceName: string): Container {
  const container = namespace?.containers.get(id);
  if (!container) throw new NotFound(`container ${quote(id)} in namespace ${quote(namespaceName)}`);
  return container;
}

/** Apply a container event to the state, re-checking what the command checked. */
export function evolveContainer(state: MetadataState, namespaceName: string, event: ContainerEvent): Verdict {
  const existing = state.namespaces.get(namespaceName);
  switch (event.type) {
    case "container.created": {
      if (existing?.containers.has(event.container.id)) {
        return { rejected: new AlreadyExists(`container ${quote(event.container.id)}`) };
      }
      const namespace = ensureNamespace(state, namespaceName);
      namespace.containers.set(event.container.id, event.container);
      namespace.hasContainerBucket = true;
      const { id, image, runtime } = event.container;
      return { notifications: [{ topic: "/containers/create", type: "containerd.events.ContainerCreate", payload: { id, image, runtime } }] };
    }
    case "container.updated": {
      if (!existing?.containers.has(event.container.id)) {
        return { rejected: new NotFound(`container ${quote(event.container.id)}`) };
      }
      existing.containers.set(event.container.id, event.container);
      const { id, image, labels, snapshotKey } = event.container;
      return {
        notifications: [{ topic: "/containers/update", type: "containerd.events.ContainerUpdate", payload: { id, image, labels, snapshotKey } }],
      };
    }
    case "container.deleted": {
      if (!existing?.containers.has(event.id)) return { rejected: new NotFound(`container ${event.id}`) };
      existing.containers.delete(event.id);
      return { notifications: [{ topic: "/containers/delete", type: "containerd.events.ContainerDelete", payload: { id: event.id } }], dirty: true };
    }
  }
}

/** Filter fields: `id`, `image`, `runtime.name`, `labels.<key>`. */
export function containerFields(container: Container): FieldAdaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case "id":
        return { value: container.id, present: container.id !== "" };
      case "image":
        return { value: container.image, present: container.image !== "" };
      case "runtime":
        if (fieldpath[1] === "name") return { value: container.runtime.name, present: container.runtime.name !== "" };
        return { value: "", present: false };
      case "labels":
        return lookupMap(container.labels, fieldpath.slice(1));
      default:
        return { value: "", present: false };
    }
  };
}
