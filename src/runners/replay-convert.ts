/**
 * Reading a recorded containerd fixture folder and converting its bodies from the
 * trace's protobuf-JSON form into ctrmeta's API form.
 *
 * The trace writes messages as protobuf JSON with the Go field names: snake_case
 * keys, int64 values as decimal strings, timestamps as `{seconds, nanos}`, enums by
 * name, and Any values decoded into `{type_url, encoding, type?, value}` where
 * `value` is the decoded object. ctrmeta's API uses lowerCamelCase keys, numbers,
 * RFC 3339 timestamps, lower-case snapshot kinds and Any as `{typeUrl, value}`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatNanos } from "../domain/time.js";

export type Body = Record<string, unknown>;

export interface TraceStatus {
  code: number;
  grpc: string;
  /** containerd's errdefs class of the error, when the trace decoded one. */
  errdefs?: string;
  details?: string;
}

/** One gRPC call of `grpc-trace.jsonl`. */
export interface TraceCall {
  seq: number;
  /** The `ops.jsonl` step that made the call. */
  op_seq?: number;
  /** Full gRPC method, e.g. `/containerd.services.containers.v1.Containers/Create`. */
  method: string;
  namespace: string | null;
  lease: string | null;
  kind: string;
  requests: unknown[];
  responses: unknown[];
  status: TraceStatus;
}

/** One event of `events.jsonl`, as the recording subscriber saw it. */
export interface TraceEvent {
  seq: number;
  op_seq?: number;
  timestamp: string;
  namespace: string;
  topic: string;
  type_url: string;
  event: unknown;
}

/** A state file such as `containers.json`: the records left after the last step. */
export interface StateFile {
  items: Body[];
  /** Records as they were just before their delete (containers and images only). */
  deleted?: Array<{ namespace: string; deleted_by_op?: number; record: Body }>;
  /** Snapshotter names the recording listed (snapshots only). */
  snapshotters?: string[];
}

export function isObject(value: unknown): value is Body {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Read a JSON Lines file; each line must be an object. */
export function readJsonLines<T>(path: string): T[] {
  const text = readFileSync(path, "utf8");
  const records: T[] = [];
  text.split("\n").forEach((line, index) => {
    if (line.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (error) {
      throw new Error(`${path}:${index + 1}: invalid JSON: ${(error as Error).message}`, { cause: error });
    }
    if (!isObject(value)) throw new Error(`${path}:${index + 1}: expected a JSON object`);
    records.push(value as T);
  });
  return records;
}

/** Read a state file of the folder, or undefined when the folder has none. */
export function readStateFile(dir: string, name: string): StateFile | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, name), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const value: unknown = JSON.parse(text);
  if (!isObject(value) || !Array.isArray(value.items)) throw new Error(`${join(dir, name)}: expected an object with an "items" list`);
  return value as unknown as StateFile;
}

/** The short method name: `Containers/Create` for `/containerd.services.containers.v1.Containers/Create`. */
export function shortMethod(method: string): string {
  const slash = method.lastIndexOf("/");
  const service = method.slice(0, slash).split(".").pop() ?? "";
  return `${service}/${method.slice(slash + 1)}`;
}

/** Fields whose value is a map: their keys are data and are never renamed. */
const MAP_FIELDS = new Set(["labels", "annotations", "extensions", "payloads"]);

/** int64 fields written as decimal strings by protobuf JSON. */
const INT64_FIELDS = new Set(["size", "total", "offset", "inodes"]);

const SNAPSHOT_KINDS = new Set(["UNKNOWN", "VIEW", "ACTIVE", "COMMITTED"]);

/** `seconds` of Go's zero time (0001-01-01T00:00:00Z): a client's "unset" timestamp. */
const GO_ZERO_SECONDS = -62135596800n;

/** Facts found while converting that a reader of the replay report needs. */
export interface ConversionNotes {
  /** Type URLs of protobuf-encoded Any values sent as their decoded JSON. */
  protobufAnyTypes: Set<string>;
}

export function newConversionNotes(): ConversionNotes {
  return { protobufAnyTypes: new Set() };
}

export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

function isTimestamp(value: Body): boolean {
  const keys = Object.keys(value);
  return keys.length > 0 && keys.every((key) => key === "seconds" || key === "nanos") && value.seconds !== undefined;
}

/** Convert `{seconds, nanos}` to RFC 3339; Go's zero time becomes undefined (unset). */
export function convertTimestamp(value: Body): string | undefined {
  const seconds = BigInt(String(value.seconds));
  if (seconds === GO_ZERO_SECONDS) return undefined;
  const nanos = BigInt(Number(value.nanos ?? 0));
  return formatNanos(seconds * 1_000_000_000n + nanos);
}

/**
 * Convert a recorded Any. JSON- and protobuf-encoded values arrive decoded and are
 * sent as JSON `value`: the trace does not carry a protobuf Any's bytes, so ctrmeta
 * stores the JSON of the decoded message instead, and replies compare decoded forms.
 */
export function convertAny(recorded: Body, notes?: ConversionNotes): Body {
  const typeUrl = typeof recorded.type_url === "string" ? recorded.type_url : "";
  const encoding = recorded.encoding;
  if (encoding === "protobuf") notes?.protobufAnyTypes.add(typeUrl);
  if (typeof recorded.value_base64 === "string") return { typeUrl, valueBase64: recorded.value_base64 };
  if (recorded.value === undefined || recorded.value === null) return { typeUrl };
  if (encoding === "json" || encoding === "protobuf") return { typeUrl, value: recorded.value };
  // Undecoded bytes are base64 in protobuf JSON.
  if (typeof recorded.value === "string") return { typeUrl, valueBase64: recorded.value };
  return { typeUrl, value: recorded.value };
}

function convertMap(field: string, value: unknown, notes?: ConversionNotes): unknown {
  if (!isObject(value)) return value ?? undefined;
  const out: Body = {};
  for (const [key, item] of Object.entries(value)) {
    out[key] = field === "extensions" && isObject(item) ? convertAny(item, notes) : item;
  }
  return out;
}

/**
 * Convert one protobuf-JSON value to ctrmeta's API form. Nulls and unset
 * timestamps are dropped; map keys and the insides of Any values are kept as they are.
 */
export function fromProtoJson(value: unknown, notes?: ConversionNotes): unknown {
  if (value === null || value === undefined) return undefined;
  if (Array.isArray(value)) return value.map((item) => fromProtoJson(item, notes));
  if (!isObject(value)) return value;
  if (typeof value.type_url === "string") return convertAny(value, notes);
  if (isTimestamp(value)) return convertTimestamp(value);

  const out: Body = {};
  for (const [key, item] of Object.entries(value)) {
    let converted: unknown;
    if (MAP_FIELDS.has(key)) converted = convertMap(key, item, notes);
    else if (INT64_FIELDS.has(key) && typeof item === "string" && /^-?\d+$/.test(item)) converted = Number(item);
    else if (key === "kind" && typeof item === "string" && SNAPSHOT_KINDS.has(item)) converted = item.toLowerCase();
    else converted = fromProtoJson(item, notes);
    if (converted !== undefined) out[camelCase(key)] = converted;
  }
  return out;
}

/** Convert a recorded message to an API body (an empty body when it is not an object). */
export function bodyFromProtoJson(value: unknown, notes?: ConversionNotes): Body {
  const converted = fromProtoJson(value, notes);
  return isObject(converted) ? converted : {};
}
