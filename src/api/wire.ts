/**
 * Conversion between API bodies and domain values.
 *
 * Bodies follow containerd's API messages in lowerCamelCase JSON. A protobuf Any is
 * `{typeUrl, value}` where value is any JSON value standing for its compact JSON
 * bytes, or `{typeUrl, valueBase64}` for arbitrary bytes; in MessagePack bodies
 * `value` may also be binary. Every reader names the field and the offending value
 * when the input has the wrong shape.
 */
import type { AnyValue } from "../domain/any.js";
import { JsonBytes } from "./json-bytes.js";
import { anyFromJson, anyJsonValue, isCompactJson } from "../domain/any.js";
import type { Container, ContainerInput } from "../domain/container.js";
import type { ContentInfo } from "../domain/content.js";
import { InvalidArgument } from "../domain/errors.js";
import type { Image, ImageInput } from "../domain/image.js";
import { copyMap, type StringMap } from "../domain/labels.js";
import type { Lease, LeaseResource } from "../domain/lease.js";
import type { Snapshot } from "../domain/snapshot.js";
import { normalizeTimestamp, type Timestamp } from "../domain/time.js";

export type Body = Record<string, unknown>;

/** Short rendering of a bad value for an error message. */
function show(value: unknown): string {
  let text: string;
  try {
    text = value instanceof Uint8Array ? `<${value.length} bytes>` : JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (value instanceof Uint8Array) return "binary";
  return typeof value;
}

function wrongType(field: string, expected: string, value: unknown): InvalidArgument {
  return new InvalidArgument(`${field}: expected ${expected}, got ${kindOf(value)} ${show(value)}`);
}

export function isObject(value: unknown): value is Body {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/** The request body as an object; an absent body is an empty object. */
export function asBody(value: unknown): Body {
  if (value === undefined || value === null) return {};
  if (!isObject(value)) throw wrongType("request body", "an object", value);
  return value;
}

export function readObject(body: Body, field: string, path = field): Body | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw wrongType(path, "an object", value);
  return value;
}

/**
 * Maximum size in UTF-8 bytes of a string field that names or identifies something:
 * ids, names, keys, digests, media types and type URLs. It is far above what
 * containerd workloads use, and it keeps records, events and error messages bounded.
 */
export const STRING_MAX_BYTES = 4096;

/** Read a string field of at most `maxBytes` UTF-8 bytes. */
export function readString(body: Body, field: string, path = field, maxBytes = STRING_MAX_BYTES): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") throw wrongType(path, "a string", value);
  // Every UTF-16 unit is at most 3 UTF-8 bytes, so short strings skip the count.
  if (value.length * 3 > maxBytes) {
    const size = Buffer.byteLength(value, "utf8");
    if (size > maxBytes) throw new InvalidArgument(`${path}: ${size} bytes is longer than the maximum of ${maxBytes} bytes`);
  }
  return value;
}

export function readBoolean(body: Body, field: string, path = field): boolean | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw wrongType(path, "a boolean", value);
  return value;
}

/** An int64: a JSON number or a decimal string (protobuf JSON writes int64 as strings). */
export function readInteger(body: Body, field: string, path = field): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  const number = typeof value === "string" && /^-?\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== "number" || !Number.isSafeInteger(number)) throw wrongType(path, "an integer", value);
  return number;
}

export function readStringList(body: Body, field: string, path = field): string[] {
  const value = body[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw wrongType(path, "a list of strings", value);
  return value.map((item, index) => {
    if (typeof item !== "string") throw wrongType(`${path}[${index}]`, "a string", item);
    return item;
  });
}

export function readStringMap(body: Body, field: string, path = field): StringMap | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw wrongType(path, "an object of strings", value);
  const out = copyMap(undefined);
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (typeof item !== "string") throw wrongType(`${path}[${JSON.stringify(key)}]`, "a string", item);
    out[key] = item;
  }
  return out;
}

/** A field mask: a list of paths, or containerd's `{paths: [...]}`. */
export function readUpdateMask(body: Body, field = "updateMask"): string[] {
  const value = body[field];
  if (isObject(value)) return readStringList(value, "paths", `${field}.paths`);
  return readStringList(body, field);
}


export function readAny(body: Body, field: string, path = field): AnyValue | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw wrongType(path, "an Any {typeUrl, value}", value);
  return anyFromBody(value, path);
}

function anyFromBody(value: Body, path: string): AnyValue {
  const typeUrl = readString(value, "typeUrl", `${path}.typeUrl`) ?? "";
  if (value.valueBase64 !== undefined && value.valueBase64 !== null) {
    const text = readString(value, "valueBase64", `${path}.valueBase64`, Number.POSITIVE_INFINITY)!;
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw wrongType(`${path}.valueBase64`, "base64", text);
    return { typeUrl, value: new Uint8Array(Buffer.from(text, "base64")) };
  }
  const inner = value.value;
  if (inner === undefined) return { typeUrl, value: new Uint8Array() };
  if (inner instanceof Uint8Array) return { typeUrl, value: new Uint8Array(inner) };
  return anyFromJson(typeUrl, inner);
}

export function readAnyMap(body: Body, field: string, path = field): Record<string, AnyValue> | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (!isObject(value)) throw wrongType(path, "an object of Any values", value);
  const out = Object.create(null) as Record<string, AnyValue>;
  for (const key of Object.keys(value)) {
    const item = value[key];
    if (!isObject(item)) throw wrongType(`${path}[${JSON.stringify(key)}]`, "an Any {typeUrl, value}", item);
    out[key] = anyFromBody(item, `${path}[${JSON.stringify(key)}]`);
  }
  return out;
}

/** An RFC 3339 timestamp, normalised; field named in the error when unparsable. */
export function readTimestamp(body: Body, field: string, path = field): Timestamp | undefined {
  const text = readString(body, field, path);
  if (text === undefined) return undefined;
  const normalised = normalizeTimestamp(text);
  if (normalised === undefined) throw wrongType(path, "an RFC 3339 timestamp", text);
  return normalised;
}

/**
 * Encode an Any: JSON bytes come back as `value`, anything else as `valueBase64`.
 * With `asBytes`, the JSON `value` is left as its bytes (a JsonBytes) for a reply
 * encoder to write as they are.
 */
export function encodeAny(value: AnyValue, asBytes = false): Body {
  if (asBytes && isCompactJson(value.value)) return { typeUrl: value.typeUrl, value: new JsonBytes(value.value) };
  const json = anyJsonValue(value.value);
  if (json) return { typeUrl: value.typeUrl, value: json.json };
  return { typeUrl: value.typeUrl, valueBase64: Buffer.from(value.value).toString("base64") };
}

function plainMap<T, U>(source: Readonly<Record<string, T>>, convert: (value: T) => U): Record<string, U> {
  const out: Record<string, U> = {};
  for (const key of Object.keys(source)) {
    Object.defineProperty(out, key, { value: convert(source[key]!), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function plainLabels(labels: Readonly<StringMap>): Record<string, string> {
  return plainMap(labels, (value) => value);
}

export function readContainerInput(body: Body, path = "container"): ContainerInput {
  const runtime = readObject(body, "runtime", `${path}.runtime`);
  const input: ContainerInput = {};
  const id = readString(body, "id", `${path}.id`);
  if (id !== undefined) input.id = id;
  const labels = readStringMap(body, "labels", `${path}.labels`);
  if (labels !== undefined) input.labels = labels;
  const image = readString(body, "image", `${path}.image`);
  if (image !== undefined) input.image = image;
  if (runtime) {
    input.runtime = {};
    const name = readString(runtime, "name", `${path}.runtime.name`);
    if (name !== undefined) input.runtime.name = name;
    const options = readAny(runtime, "options", `${path}.runtime.options`);
    if (options !== undefined) input.runtime.options = options;
  }
  const spec = readAny(body, "spec", `${path}.spec`);
  if (spec !== undefined) input.spec = spec;
  const snapshotter = readString(body, "snapshotter", `${path}.snapshotter`);
  if (snapshotter !== undefined) input.snapshotter = snapshotter;
  const snapshotKey = readString(body, "snapshotKey", `${path}.snapshotKey`);
  if (snapshotKey !== undefined) input.snapshotKey = snapshotKey;
  const extensions = readAnyMap(body, "extensions", `${path}.extensions`);
  if (extensions !== undefined) input.extensions = extensions;
  const sandbox = readString(body, "sandbox", `${path}.sandbox`);
  if (sandbox !== undefined) input.sandbox = sandbox;
  return input;
}

/** Encode a container; `specAsBytes` leaves a JSON spec as its bytes (see encodeAny) for a reply. */
export function encodeContainer(container: Container, specAsBytes = false): Body {
  const runtime: Body = { name: container.runtime.name };
  if (container.runtime.options) runtime.options = encodeAny(container.runtime.options);
  const out: Body = {
    id: container.id,
    labels: plainLabels(container.labels),
    image: container.image,
    runtime,
    snapshotter: container.snapshotter,
    snapshotKey: container.snapshotKey,
    extensions: plainMap(container.extensions, encodeAny),
    createdAt: container.createdAt,
    updatedAt: container.updatedAt,
  };
  if (container.spec) out.spec = encodeAny(container.spec, specAsBytes);
  if (container.sandbox) out.sandbox = container.sandbox;
  return out;
}

export function readImageInput(body: Body, path = "image"): ImageInput {
  const input: ImageInput = {};
  const name = readString(body, "name", `${path}.name`);
  if (name !== undefined) input.name = name;
  const labels = readStringMap(body, "labels", `${path}.labels`);
  if (labels !== undefined) input.labels = labels;
  const target = readObject(body, "target", `${path}.target`);
  if (target) {
    input.target = {};
    const mediaType = readString(target, "mediaType", `${path}.target.mediaType`);
    if (mediaType !== undefined) input.target.mediaType = mediaType;
    const digest = readString(target, "digest", `${path}.target.digest`);
    if (digest !== undefined) input.target.digest = digest;
    const size = readInteger(target, "size", `${path}.target.size`);
    if (size !== undefined) input.target.size = size;
    const annotations = readStringMap(target, "annotations", `${path}.target.annotations`);
    if (annotations !== undefined) input.target.annotations = annotations;
  }
  return input;
}

export function encodeImage(image: Image): Body {
  return {
    name: image.name,
    labels: plainLabels(image.labels),
    target: {
      mediaType: image.target.mediaType,
      digest: image.target.digest,
      size: image.target.size,
      annotations: plainLabels(image.target.annotations),
    },
    createdAt: image.createdAt,
    updatedAt: image.updatedAt,
  };
}

export function encodeContentInfo(info: ContentInfo): Body {
  return { digest: info.digest, size: info.size, labels: plainLabels(info.labels), createdAt: info.createdAt, updatedAt: info.updatedAt };
}

export function encodeSnapshot(snapshot: Snapshot): Body {
  return {
    name: snapshot.name,
    parent: snapshot.parent,
    kind: snapshot.kind,
    labels: plainLabels(snapshot.labels),
    createdAt: snapshot.createdAt,
    updatedAt: snapshot.updatedAt,
  };
}

export function encodeLease(lease: Pick<Lease, "id" | "labels" | "createdAt">): Body {
  return { id: lease.id, labels: plainLabels(lease.labels), createdAt: lease.createdAt };
}

export function readLeaseResource(body: Body, field = "resource"): LeaseResource {
  const resource = readObject(body, field);
  if (!resource) throw new InvalidArgument(`${field}: missing`);
  return { id: readString(resource, "id", `${field}.id`) ?? "", type: readString(resource, "type", `${field}.type`) ?? "" };
}

/** Encode a notification payload: maps become plain objects, Any values become bodies. */
export function encodePayload(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString("base64");
  if (Array.isArray(value)) return value.map(encodePayload);
  if (isObject(value)) {
    if (typeof value.typeUrl === "string" && value.value instanceof Uint8Array) return encodeAny(value as unknown as AnyValue);
    return plainMap(value, encodePayload);
  }
  return value;
}
