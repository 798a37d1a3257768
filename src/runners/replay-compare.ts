/**
 * Masking and comparison of API-form values for the replay runner.
 *
 * Comparison follows proto3 semantics, because the recording went through protobuf:
 * an empty string, zero, false, null, an empty list and an empty message all mean
 * "unset", so they are dropped before comparing. Map entries are data and are kept
 * even with empty values. The decoded value inside an Any is compared exactly.
 */
import { isObject, type Body } from "./replay-convert.js";

/** Replacement for every timestamp, so that only presence is compared. */
export const MASKED_TIME = "<timestamp>";

/** API fields that hold a timestamp. */
const TIMESTAMP_FIELDS = new Set(["createdAt", "updatedAt", "startedAt", "timestamp", "expiresAt"]);

/** Label keys whose values are timestamps chosen at recording time. */
const TIMESTAMP_LABELS = new Set(["containerd.io/gc.expire"]);

const STRING_MAP_FIELDS = new Set(["labels", "annotations"]);

/**
 * Ids a server generated during the recording, mapped to the ids ctrmeta generated
 * for the same request. Ids a client chose (ctr's lease ids, unpack snapshot keys)
 * are replayed verbatim and need no entry.
 */
export class IdMap {
  private readonly ids = new Map<string, string>();

  learn(recorded: string, replayed: string): void {
    if (recorded !== "" && recorded !== replayed) this.ids.set(recorded, replayed);
  }

  translate(id: string): string {
    return this.ids.get(id) ?? id;
  }

  get size(): number {
    return this.ids.size;
  }

  /** Replace every string equal to a recorded id with its replayed id, at any depth. */
  apply(value: unknown): unknown {
    if (this.ids.size === 0) return value;
    if (typeof value === "string") return this.translate(value);
    if (Array.isArray(value)) return value.map((item) => this.apply(item));
    if (!isObject(value)) return value;
    const out: Body = {};
    for (const [key, item] of Object.entries(value)) out[key] = this.apply(item);
    return out;
  }
}

function isUnset(value: unknown): boolean {
  return value === undefined || value === null || value === "" || value === 0 || value === false;
}

function normalizeStringMap(value: unknown): unknown {
  if (!isObject(value)) return isUnset(value) ? undefined : value;
  const keys = Object.keys(value);
  if (keys.length === 0) return undefined;
  const out: Body = {};
  for (const key of keys) out[key] = TIMESTAMP_LABELS.has(key) && value[key] !== "" ? MASKED_TIME : value[key];
  return out;
}

function normalizeAny(value: Body): unknown {
  const out: Body = {};
  if (!isUnset(value.typeUrl)) out.typeUrl = value.typeUrl;
  if (value.value !== undefined && value.value !== null) out.value = value.value;
  if (!isUnset(value.valueBase64)) out.valueBase64 = value.valueBase64;
  return Object.keys(out).length === 0 ? undefined : out;
}

/**
 * Prepare an API-form value for comparison: drop unset fields, mask timestamps and
 * timestamp labels. Returns undefined for a value that is entirely unset.
 */
export function normalize(value: unknown): unknown {
  if (isUnset(value)) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined;
    return value.map((item) => normalize(item) ?? {});
  }
  if (!isObject(value)) return value;
  if (typeof value.typeUrl === "string") return normalizeAny(value);

  const out: Body = {};
  for (const [key, item] of Object.entries(value)) {
    let normalized: unknown;
    if (TIMESTAMP_FIELDS.has(key)) normalized = isUnset(item) ? undefined : MASKED_TIME;
    else if (STRING_MAP_FIELDS.has(key)) normalized = normalizeStringMap(item);
    else if (key === "extensions" && isObject(item)) normalized = normalizeExtensions(item);
    else normalized = normalize(item);
    if (normalized !== undefined) out[key] = normalized;
  }
  return Object.keys(out).length === 0 ? undefined : out;
}

function normalizeExtensions(value: Body): unknown {
  const keys = Object.keys(value);
  if (keys.length === 0) return undefined;
  const out: Body = {};
  for (const key of keys) {
    const item = value[key];
    out[key] = isObject(item) ? (normalizeAny(item) ?? {}) : item;
  }
  return out;
}

/** Render a value for a difference line, cut to a readable length. */
export function show(value: unknown): string {
  if (value === undefined) return "absent";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 97)}...` : text;
}

function join(path: string, key: string): string {
  if (path === "") return key;
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/**
 * List the differences between two normalized values, one line per differing
 * path: `labels.tier: expected "x", got absent`.
 */
export function diffValues(expected: unknown, actual: unknown, path = ""): string[] {
  const where = path === "" ? "value" : path;
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const lines: string[] = [];
    if (expected.length !== actual.length) lines.push(`${where}: expected ${expected.length} items, got ${actual.length}`);
    const common = Math.min(expected.length, actual.length);
    for (let index = 0; index < common; index++) lines.push(...diffValues(expected[index], actual[index], `${path}[${index}]`));
    return lines;
  }
  if (isObject(expected) && isObject(actual)) {
    const lines: string[] = [];
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const key of [...keys].sort()) lines.push(...diffValues(expected[key], actual[key], join(path, key)));
    return lines;
  }
  if (expected === actual) return [];
  return [`${where}: expected ${show(expected)}, got ${show(actual)}`];
}

/** Normalize both sides, then diff them. */
export function compareBodies(expected: unknown, actual: unknown): string[] {
  return diffValues(normalize(expected), normalize(actual));
}

/** Join difference lines into one detail, keeping the first few. */
export function summarizeDiffs(lines: readonly string[], limit = 4): string {
  if (lines.length <= limit) return lines.join("; ");
  return `${lines.slice(0, limit).join("; ")}; and ${lines.length - limit} more`;
}
