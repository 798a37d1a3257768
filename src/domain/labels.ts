import { InvalidArgument, quote } from "./errors.js";

/** A label or annotation map: an object that inherits nothing (see emptyMap), so `__proto__` is a plain key. */
export type StringMap = Record<string, string>;

/** Maximum size of a label, key plus value, in UTF-8 bytes. */
export const LABEL_MAX_BYTES = 4096;

/** Keys longer than this are cut in error messages, followed by an ellipsis. */
const KEY_MESSAGE_MAX_BYTES = 256;

/**
 * Constructor of the maps and records the view keeps. Its prototype is an empty
 * object without a prototype, so its objects inherit nothing: `__proto__` and
 * `constructor` are plain keys, as with Object.create(null). Unlike those, which
 * V8 stores as hash tables from the start (470 bytes for seven labels), these keep
 * V8's compact layout (about 80 bytes; `node dist/bench/probes.js object-layout`).
 */
const Bare = function Bare() {} as unknown as new () => object;
Bare.prototype = Object.create(null) as object;

/** An empty object without inherited members, for maps with arbitrary keys and for records. */
export function emptyMap<T = string>(): Record<string, T> {
  return new Bare() as Record<string, T>;
}

/** Copy any plain object into a null-prototype map, keeping own string values only. */
export function copyMap(source: Readonly<Record<string, string>> | undefined | null): StringMap {
  const out = emptyMap();
  if (!source) return out;
  for (const key of Object.keys(source)) {
    out[key] = source[key]!;
  }
  return out;
}

/** Copy a map without its empty values: an empty value means "absent" on every write path. */
export function withoutEmptyValues(source: Readonly<StringMap> | undefined | null): StringMap {
  const out = emptyMap();
  if (!source) return out;
  for (const key of Object.keys(source)) {
    const value = source[key]!;
    if (value !== "") out[key] = value;
  }
  return out;
}

export function byteLength(value: string): number {
  return Buffer.byteLength(value, "utf8");
}

function keyForMessage(key: string): string {
  const bytes = Buffer.from(key, "utf8");
  if (bytes.length <= KEY_MESSAGE_MAX_BYTES) return key;
  // Cut on a character boundary so the message stays valid UTF-8.
  let cut = bytes.subarray(0, KEY_MESSAGE_MAX_BYTES).toString("utf8");
  if (cut.endsWith("\ufffd")) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/**
 * Validate one label. containerd checks only the size; ctrmeta also rejects an empty
 * key with a non-empty value, which containerd fails later in storage as `Unknown`.
 */
export function validateLabel(key: string, value: string): void {
  const total = byteLength(key) + byteLength(value);
  if (total > LABEL_MAX_BYTES) {
    throw new InvalidArgument(
      `label key and value length (${total} bytes) greater than maximum size (${LABEL_MAX_BYTES} bytes), key: ${keyForMessage(key)}`,
    );
  }
  if (key === "" && value !== "") throw emptyKeyError("label", value);
}

function emptyKeyError(noun: string, value: string): InvalidArgument {
  return new InvalidArgument(`${noun} key ${quote("")} must not be empty (value ${quote(value)})`);
}

/**
 * Reject an empty key with a non-empty value in a map that has no size limit (image
 * target annotations, lease labels). containerd stores such an entry and fails in
 * bbolt (`key required`, gRPC Unknown); ctrmeta rejects it up front as InvalidArgument.
 */
export function validateMapKeys(context: string, noun: string, map: Readonly<StringMap> | undefined): void {
  if (map && Object.hasOwn(map, "") && map[""] !== "") throw emptyKeyError(noun, map[""]!).wrap(context);
}

/**
 * Validate every label of a map, wrapping the first failure with `context`
 * (`containers.Labels`, `image.Labels`, ...). The size check runs before empty
 * values are dropped, so an oversized key with an empty value is rejected.
 */
export function validateLabels(context: string, labels: Readonly<StringMap> | undefined): void {
  if (!labels) return;
  for (const key of Object.keys(labels)) {
    try {
      validateLabel(key, labels[key]!);
    } catch (error) {
      if (error instanceof InvalidArgument) throw error.wrap(context);
      throw error;
    }
  }
}

export function mapsEqual(a: Readonly<StringMap>, b: Readonly<StringMap>): boolean {
  const keysA = Object.keys(a);
  if (keysA.length !== Object.keys(b).length) return false;
  return keysA.every((key) => Object.hasOwn(b, key) && b[key] === a[key]);
}
