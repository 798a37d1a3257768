/**
 * Images: records, validation, update field paths, events and their effect on state.
 * Rules follow containerd v1.7.9 `metadata/images.go` and `services/images`.
 */
import type { CommandMeta, Decision, Verdict } from "./decision.js";
import { validateDigest } from "./digest.js";
import { AlreadyExists, InvalidArgument, NotFound, quote, statusError } from "./errors.js";
import { copyMap, validateLabels, validateMapKeys, withoutEmptyValues, type StringMap } from "./labels.js";
import { ensureNamespace, type MetadataState, type NamespaceState } from "./state.js";
import type { Timestamp } from "./time.js";
import { lookupMap, type FieldAdaptor } from "../filters/filters.js";

/** The stored part of an OCI descriptor; other descriptor fields are dropped. */
export interface Descriptor {
  /** Required, never checked against a list. */
  mediaType: string;
  /** Required, a valid digest. */
  digest: string;
  /** Required, greater than zero. */
  size: number;
  /** Optional, not size-checked, never holds empty values. */
  annotations: StringMap;
}

export interface Image {
  /** Required, any bytes (not an identifier), immutable. */
  name: string;
  labels: StringMap;
  target: Descriptor;
  createdAt: Timestamp;
  updatedAt: Timestamp;
}

export interface ImageInput {
  name?: string;
  labels?: StringMap;
  target?: { mediaType?: string; digest?: string; size?: number; annotations?: StringMap };
}

export type ImageEvent =
  | { type: "image.created"; image: Image }
  | { type: "image.updated"; image: Image }
  | { type: "image.deleted"; name: string };

function targetFromInput(target: ImageInput["target"]): Descriptor {
  return {
    mediaType: target?.mediaType ?? "",
    digest: target?.digest ?? "",
    size: target?.size ?? 0,
    annotations: withoutEmptyValues(target?.annotations),
  };
}

function validateImage(image: { name: string; labels: StringMap; target: Descriptor }): void {
  if (image.name === "") throw new InvalidArgument("image name must not be empty");
  validateLabels("image.Labels", image.labels);
  const { digest, size, mediaType } = image.target;
  validateDigest(digest, (reason) => `Target.Digest ${quote(digest)} invalid: ${reason}`);
  if (!(size > 0)) throw new InvalidArgument("Target.Size must be greater than zero");
  if (mediaType === "") throw new InvalidArgument("Target.MediaType must be set");
  // Last, because containerd only fails on it when writing to storage.
  validateMapKeys("image.Target.Annotations", "annotation", image.target.annotations);
}

/**
 * @param sourceDateEpoch optional normalised timestamp that replaces "now" (containerd 1.7)
 */
export function decideCreateImage(
  namespace: NamespaceState | undefined,
  input: ImageInput,
  meta: CommandMeta,
  sourceDateEpoch?: Timestamp,
): Decision<Image> {
  const name = input.name ?? "";
  if (name === "") throw statusError("InvalidArgument", "Image.Name required");
  const candidate = { name, labels: copyMap(input.labels), target: targetFromInput(input.target) };
  validateImage(candidate);
  if (namespace?.images.has(name)) throw new AlreadyExists(`image ${quote(name)}`);

  const time = sourceDateEpoch ?? meta.now;
  const image: Image = { ...candidate, labels: withoutEmptyValues(candidate.labels), createdAt: time, updatedAt: time };
  return { event: { type: "image.created", image }, result: image };
}

export function decideUpdateImage(
  namespace: NamespaceState | undefined,
  input: ImageInput,
  paths: readonly string[],
  meta: CommandMeta,
  sourceDateEpoch?: Timestamp,
): Decision<Image> {
  const name = input.name ?? "";
  if (name === "") throw statusError("InvalidArgument", "Image.Name required");
  const stored = namespace?.images.get(name);
  if (!stored) throw new NotFound(`image ${quote(name)}`);

  let labels = copyMap(stored.labels);
  let target: Descriptor = { ...stored.target, annotations: copyMap(stored.target.annotations) };
  const inputTarget = targetFromInput(input.target);
  if (paths.length === 0) {
    labels = copyMap(input.labels);
    target = inputTarget;
  }
  for (const path of paths) {
    if (path.startsWith("labels.")) {
      const key = path.slice("labels.".length);
      labels[key] = input.labels && Object.hasOwn(input.labels, key) ? input.labels[key]! : "";
      continue;
    }
    if (path.startsWith("annotations.")) {
      const key = path.slice("annotations.".length);
      target.annotations[key] = inputTarget.annotations[key] ?? "";
      continue;
    }
    switch (path) {
      case "labels":
        labels = copyMap(input.labels);
        break;
      case "target":
        target = { ...inputTarget, annotations: copyMap(inputTarget.annotations) };
        break;
      case "annotations":
        target.annotations = copyMap(inputTarget.annotations);
        break;
      default:
        throw new InvalidArgument(`cannot update ${quote(path)} field on image ${quote(name)}`);
    }
  }
  validateImage({ name, labels, target });

  const image: Image = {
    name,
    labels: withoutEmptyValues(labels),
    target: { ...target, annotations: withoutEmptyValues(target.annotations) },
    createdAt: stored.createdAt,
    updatedAt: sourceDateEpoch ?? meta.now,
  };
  return { event: { type: "image.updated", image }, result: image };
}

export function decideDeleteImage(namespace: NamespaceState | undefined, name: string): Decision<void> {
  if (!namespace?.images.has(name)) throw new NotFound(`image ${quote(name)}`);
  return { event: { type: "image.deleted", name }, result: undefined };
}

export function getImage(namespace: NamespaceState | undefined, name: string): Image {
  const image = namespace?.images.get(name);
  if (!image) throw new NotFound(`image ${quote(name)}`);
  return image;
}

export function evolveImage(state: MetadataState, namespaceName: string, event: ImageEvent): Verdict {
  const existing = state.namespaces.get(namespaceName);
  switch (event.type) {
    case "image.created": {
      if (existing?.images.has(event.image.name)) return { rejected: new AlreadyExists(`image ${quote(event.image.name)}`) };
      ensureNamespace(state, namespaceName).images.set(event.image.name, event.image);
      const { name, labels } = event.image;
      return { notifications: [{ topic: "/images/create", type: "containerd.services.images.v1.ImageCreate", payload: { name, labels } }] };
    }
    case "image.updated": {
      if (!existing?.images.has(event.image.name)) return { rejected: new NotFound(`image ${quote(event.image.name)}`) };
      existing.images.set(event.image.name, event.image);
      const { name, labels } = event.image;
      return { notifications: [{ topic: "/images/update", type: "containerd.services.images.v1.ImageUpdate", payload: { name, labels } }] };
    }
    case "image.deleted": {
      if (!existing?.images.has(event.name)) return { rejected: new NotFound(`image ${quote(event.name)}`) };
      existing.images.delete(event.name);
      return { notifications: [{ topic: "/images/delete", type: "containerd.services.images.v1.ImageDelete", payload: { name: event.name } }], dirty: true };
    }
  }
}

/** Filter fields: `name`, `target.digest`, `target.mediatype`, `labels.<key>`, `annotations.<key>`. */
export function imageFields(image: Image): FieldAdaptor {
  return (fieldpath) => {
    switch (fieldpath[0]) {
      case "name":
        return { value: image.name, present: image.name !== "" };
      case "target":
        if (fieldpath[1] === "digest") return { value: image.target.digest, present: image.target.digest !== "" };
        if (fieldpath[1] === "mediatype") {
          return { value: image.target.mediaType, present: image.target.mediaType !== "" };
        }
        return { value: "", present: false };
      case "labels":
        return lookupMap(image.labels, fieldpath.slice(1));
      case "annotations":
        return lookupMap(image.target.annotations, fieldpath.slice(1));
      default:
        return { value: "", present: false };
    }
  };
}
