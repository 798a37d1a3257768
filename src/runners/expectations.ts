/**
 * Expectation matching for the conformance runner: `$repeat` expansion, record
 * subsets with proto3 defaults, exact label/annotation/extension maps, protobuf Any
 * comparison, and the check of one step's outcome against its `expect` object.
 *
 * Every compare function returns a list of differences, each naming the field path,
 * so that an empty list means "matches".
 */
import { parseRfc3339 } from "../domain/time.js";

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

/** Maps compared key for key, with no extra or missing keys allowed (absent = {}). */
const EXACT_MAP_FIELDS = new Set(["labels", "annotations", "extensions"]);

export interface LeaseResourceValue {
  id: string;
  type: string;
}

export type TimestampRule = "equal" | "updatedAfterCreated";

export interface Expectation {
  ok?: true;
  error?: string;
  messageContains?: string;
  record?: JsonObject;
  records?: JsonObject[];
  keys?: string[];
  resources?: LeaseResourceValue[];
  timestamps?: TimestampRule;
  count?: number;
}

/** Result of one step: a success with its record, listed records, keys or resources, or an error. */
export type Outcome =
  | {
      ok: true;
      record?: Record<string, unknown>;
      list?: Record<string, unknown>[];
      keys?: string[];
      resources?: LeaseResourceValue[];
    }
  | { ok: false; kind: string; message: string };

/** A malformed `$repeat` object; `path` names where it sits. */
export class RepeatError extends Error {
  constructor(readonly path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "RepeatError";
  }
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Replace every `{"$repeat": S, "times": N}` in a JSON value with S repeated N times.
 * Map keys are left as they are. Throws RepeatError for a `$repeat` object of any
 * other shape.
 */
export function expandRepeats(value: Json, path = ""): Json {
  if (Array.isArray(value)) return value.map((item, index) => expandRepeats(item, `${path}[${index}]`));
  if (!isPlainObject(value)) return value;
  if (Object.hasOwn(value, "$repeat")) {
    const extra = Object.keys(value).filter((key) => key !== "$repeat" && key !== "times");
    if (extra.length > 0) throw new RepeatError(path, `a $repeat object has only "$repeat" and "times", found ${JSON.stringify(extra[0])}`);
    const text = value.$repeat;
    const times = value.times;
    if (typeof text !== "string") throw new RepeatError(path, "$repeat must be a string");
    if (typeof times !== "number" || !Number.isSafeInteger(times) || times < 0) {
      throw new RepeatError(path, `times must be a non-negative integer, got ${JSON.stringify(times)}`);
    }
    return text.repeat(times);
  }
  const out: JsonObject = {};
  for (const key of Object.keys(value)) {
    Object.defineProperty(out, key, {
      value: expandRepeats(value[key]!, path === "" ? key : `${path}.${key}`),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

/** Short rendering of a value for a difference message. */
export function show(value: unknown): string {
  if (value === undefined) return "absent";
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 160 ? `${text.slice(0, 120)}... (${text.length} characters)` : text;
}

/** Test whether a value is a proto3 default, which reads the same as an absent field. */
export function isProtoDefault(value: unknown): boolean {
  return value === undefined || value === null || value === "" || value === 0 || value === false;
}

/** Test whether an expected object is a protobuf Any (it has a `typeUrl` field). */
export function isAnyExpectation(value: unknown): value is Record<string, unknown> {
  return isPlainObject(value) && Object.hasOwn(value, "typeUrl");
}

/** Structural equality of parsed JSON values; object key order does not matter. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((item, index) => jsonEqual(item, b[index]));
  }
  if (isPlainObject(a) || isPlainObject(b)) {
    if (!isPlainObject(a) || !isPlainObject(b)) return false;
    const keys = Object.keys(a);
    if (keys.length !== Object.keys(b).length) return false;
    return keys.every((key) => Object.hasOwn(b, key) && jsonEqual(a[key], b[key]));
  }
  return a === b;
}

/** Decode the bytes of an Any from the API: `value` is compact JSON, `valueBase64` raw bytes. */
function anyBytes(actual: Record<string, unknown>): Buffer {
  if (typeof actual.valueBase64 === "string") return Buffer.from(actual.valueBase64, "base64");
  if (actual.value === undefined || actual.value === null) return Buffer.alloc(0);
  return Buffer.from(JSON.stringify(actual.value), "utf8");
}

/**
 * Compare an Any: typeUrl always, then the value as parsed JSON when `value` is
 * expected, or the exact bytes when `valueBase64` is expected.
 */
export function compareAny(expected: Record<string, unknown>, actual: unknown, path: string): string[] {
  if (actual !== undefined && actual !== null && !isPlainObject(actual)) {
    return [`${path}: expected an Any, got ${show(actual)}`];
  }
  const got = isPlainObject(actual) ? actual : {};
  const differences: string[] = [];
  const gotTypeUrl = got.typeUrl ?? "";
  if ((expected.typeUrl ?? "") !== gotTypeUrl) {
    differences.push(`${path}.typeUrl: expected ${show(expected.typeUrl)}, got ${show(got.typeUrl)}`);
  }
  const bytes = anyBytes(got);
  if (Object.hasOwn(expected, "value")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString("utf8"));
    } catch {
      differences.push(`${path}.value: expected JSON ${show(expected.value)}, got bytes that are not JSON (base64 ${bytes.toString("base64")})`);
      return differences;
    }
    if (!jsonEqual(expected.value, parsed)) differences.push(`${path}.value: expected ${show(expected.value)}, got ${show(parsed)}`);
  } else if (Object.hasOwn(expected, "valueBase64")) {
    const want = Buffer.from(String(expected.valueBase64), "base64");
    if (!want.equals(bytes)) {
      differences.push(`${path}.valueBase64: expected ${show(expected.valueBase64)}, got ${show(bytes.toString("base64"))}`);
    }
  }
  return differences;
}

/** Compare a map exactly: same keys, each value compared as a string or, for extensions, as an Any. */
function compareExactMap(expected: unknown, actual: unknown, path: string): string[] {
  const want = isPlainObject(expected) ? expected : {};
  if (expected !== null && expected !== undefined && !isPlainObject(expected)) {
    return [`${path}: the expected map is not an object: ${show(expected)}`];
  }
  if (actual !== undefined && actual !== null && !isPlainObject(actual)) return [`${path}: expected a map, got ${show(actual)}`];
  const got = isPlainObject(actual) ? actual : {};
  const differences: string[] = [];
  const missing = Object.keys(want).filter((key) => !Object.hasOwn(got, key));
  const extra = Object.keys(got).filter((key) => !Object.hasOwn(want, key));
  if (missing.length > 0) differences.push(`${path}: missing keys ${show(missing)}`);
  if (extra.length > 0) differences.push(`${path}: unexpected keys ${show(extra)}`);
  for (const key of Object.keys(want)) {
    if (!Object.hasOwn(got, key)) continue;
    const itemPath = `${path}[${JSON.stringify(key)}]`;
    if (isAnyExpectation(want[key])) differences.push(...compareAny(want[key], got[key], itemPath));
    else if (!jsonEqual(want[key], got[key])) differences.push(`${itemPath}: expected ${show(want[key])}, got ${show(got[key])}`);
  }
  return differences;
}

/** Compare scalars, reading an int64 sent as a decimal string (protobuf JSON) as a number. */
function scalarEqual(expected: unknown, actual: unknown): boolean {
  if (typeof expected === "number" && typeof actual === "string" && /^-?\d+$/.test(actual)) return Number(actual) === expected;
  return expected === actual;
}

/**
 * Compare one expected value with the actual one at `path`, where `field` is the
 * last field name (it selects the exact-map rule).
 */
export function compareValue(expected: unknown, actual: unknown, path: string, field = ""): string[] {
  if (EXACT_MAP_FIELDS.has(field)) return compareExactMap(expected, actual, path);
  if (isAnyExpectation(expected)) return compareAny(expected, actual, path);
  if (isPlainObject(expected)) {
    if (actual !== undefined && actual !== null && !isPlainObject(actual)) return [`${path}: expected an object, got ${show(actual)}`];
    return compareRecord(expected, isPlainObject(actual) ? actual : {}, path);
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return isProtoDefault(actual) && expected.length === 0 ? [] : [`${path}: expected ${show(expected)}, got ${show(actual)}`];
    if (actual.length !== expected.length) return [`${path}: expected ${expected.length} items ${show(expected)}, got ${actual.length} ${show(actual)}`];
    return expected.flatMap((item, index) => compareValue(item, actual[index], `${path}[${index}]`));
  }
  if (isProtoDefault(expected) && isProtoDefault(actual)) return [];
  return scalarEqual(expected, actual) ? [] : [`${path}: expected ${show(expected)}, got ${show(actual)}`];
}

/** Compare a record subset: every expected field must match; other actual fields are ignored. */
export function compareRecord(expected: Record<string, unknown>, actual: Record<string, unknown>, path = "record"): string[] {
  const differences: string[] = [];
  for (const field of Object.keys(expected)) {
    differences.push(...compareValue(expected[field], actual[field], `${path}.${field}`, field));
  }
  return differences;
}

function checkTimestamps(rule: TimestampRule, record: Record<string, unknown> | undefined): string[] {
  const createdText = record?.createdAt;
  const updatedText = record?.updatedAt;
  const created = typeof createdText === "string" ? parseRfc3339(createdText) : undefined;
  const updated = typeof updatedText === "string" ? parseRfc3339(updatedText) : undefined;
  if (created === undefined || updated === undefined) {
    return [`timestamps: expected RFC 3339 createdAt and updatedAt, got ${show(createdText)} and ${show(updatedText)}`];
  }
  if (rule === "equal" && created !== updated) return [`timestamps: expected createdAt == updatedAt, got ${createdText} and ${updatedText}`];
  if (rule === "updatedAfterCreated" && !(updated > created)) {
    return [`timestamps: expected updatedAt > createdAt, got createdAt ${createdText} and updatedAt ${updatedText}`];
  }
  return [];
}

function describeError(outcome: { kind: string; message: string }): string {
  const message = outcome.message.length > 400 ? `${outcome.message.slice(0, 400)}...` : outcome.message;
  return `${outcome.kind}: ${JSON.stringify(message)}`;
}

/** Check a successful outcome against the result fields of an expectation. */
function checkResult(expect: Expectation, outcome: Extract<Outcome, { ok: true }>): string[] {
  const differences: string[] = [];
  if (expect.record !== undefined) {
    if (outcome.record === undefined) differences.push("record: the operation returned no record");
    else differences.push(...compareRecord(expect.record, outcome.record));
  }
  if (expect.timestamps !== undefined) differences.push(...checkTimestamps(expect.timestamps, outcome.record));
  if (expect.keys !== undefined && !jsonEqual(expect.keys, outcome.keys)) {
    differences.push(`keys: expected ${show(expect.keys)}, got ${show(outcome.keys)}`);
  }
  if (expect.records !== undefined) {
    const list = outcome.list ?? [];
    if (list.length !== expect.records.length) {
      differences.push(`records: expected ${expect.records.length} records, got ${list.length}`);
    } else {
      expect.records.forEach((record, index) => differences.push(...compareRecord(record, list[index]!, `records[${index}]`)));
    }
  }
  if (expect.count !== undefined && (outcome.list?.length ?? 0) !== expect.count) {
    differences.push(`count: expected ${expect.count}, got ${outcome.list?.length ?? 0}`);
  }
  if (expect.resources !== undefined && !jsonEqual(expect.resources, outcome.resources)) {
    differences.push(`resources: expected ${show(expect.resources)}, got ${show(outcome.resources)}`);
  }
  return differences;
}

/** Check one step's outcome; returns what differed, or undefined when it matches. */
export function checkOutcome(expect: Expectation, outcome: Outcome): string | undefined {
  if (expect.error !== undefined) {
    if (outcome.ok) return `expected ${expect.error}, got ok`;
    if (outcome.kind !== expect.error) return `expected ${expect.error}, got ${describeError(outcome)}`;
    if (expect.messageContains !== undefined && !outcome.message.includes(expect.messageContains)) {
      return `expected the message to contain ${show(expect.messageContains)}, got ${describeError(outcome)}`;
    }
    return undefined;
  }
  if (!outcome.ok) return `expected ok, got ${describeError(outcome)}`;
  const differences = checkResult(expect, outcome);
  return differences.length === 0 ? undefined : differences.join("; ");
}
