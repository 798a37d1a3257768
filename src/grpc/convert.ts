/**
 * Conversion between gRPC message objects (protobufjs `toObject` form with the
 * options in protos.ts) and ctrmeta's API bodies (docs/api.md), driven by the
 * message types. One pair of functions covers every service in both directions: a
 * server converts requests to bodies and bodies to replies, a client the reverse.
 *
 * | protobuf | API body |
 * |---|---|
 * | `google.protobuf.Timestamp` | RFC 3339 string with nine fraction digits; Go's zero time is unset |
 * | `google.protobuf.Any` | `{typeUrl, value}` when the bytes are compact JSON, else `{typeUrl, valueBase64}` |
 * | `google.protobuf.FieldMask` | `{paths}` |
 * | int64, uint64 | number (a decimal string beyond 2^53) |
 * | snapshot `Kind` | `active`, `view`, `committed`, `unknown` |
 * | other enums | the value's name |
 * | bytes | base64 string |
 *
 * Field names are the same on both sides (lowerCamelCase). Body fields that the
 * message type does not have are dropped when encoding.
 */
import type protobuf from "protobufjs";
import { JsonBytes } from "../api/json-bytes.js";
import { encodeAny, isObject, type Body } from "../api/wire.js";
import { formatNanos, parseRfc3339 } from "../domain/time.js";

const TIMESTAMP = "google.protobuf.Timestamp";
const ANY = "google.protobuf.Any";
const FIELD_MASK = "google.protobuf.FieldMask";
/** Enums whose body form is the lower-case name. */
const LOWER_CASE_ENUMS = new Set(["containerd.services.snapshots.v1.Kind"]);

const INT64_TYPES = new Set(["int64", "uint64", "sint64", "fixed64", "sfixed64"]);

/** Return the full name without protobufjs's leading dot. */
function fullName(reflection: protobuf.ReflectionObject): string {
  return reflection.fullName.replace(/^\./, "");
}

/**
 * Return the name of Any's `type_url` field. protobufjs's built-in google/protobuf
 * types keep the .proto names even when the other files are loaded in lowerCamelCase.
 */
function typeUrlKey(any: protobuf.Type): string {
  return any.fields.typeUrl ? "typeUrl" : "type_url";
}

function isType(value: protobuf.Type | protobuf.Enum | null): value is protobuf.Type {
  return value !== null && "fieldsArray" in value;
}

function bytesOf(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string") return new Uint8Array(Buffer.from(value, "base64"));
  if (Array.isArray(value)) return Uint8Array.from(value.filter((item): item is number => typeof item === "number"));
  return new Uint8Array();
}

/** `seconds` of Go's zero time (0001-01-01T00:00:00Z), which Go clients send for an unset time. */
const GO_ZERO_SECONDS = -62135596800n;

/** RFC 3339, or undefined for Go's zero time. */
function timestampToBody(value: Body): string | undefined {
  const seconds = BigInt(String(value.seconds ?? 0));
  const nanos = BigInt(Number(value.nanos ?? 0));
  if (seconds === GO_ZERO_SECONDS && nanos === 0n) return undefined;
  return formatNanos(seconds * 1_000_000_000n + nanos);
}

function timestampFromBody(value: unknown): Body | undefined {
  if (typeof value !== "string") return undefined;
  const nanos = parseRfc3339(value);
  if (nanos === undefined) return undefined;
  const seconds = nanos >= 0n ? nanos / 1_000_000_000n : -((-nanos + 999_999_999n) / 1_000_000_000n);
  return { seconds: seconds.toString(), nanos: Number(nanos - seconds * 1_000_000_000n) };
}

function int64ToBody(value: unknown): unknown {
  const text = String(value);
  const number = Number(text);
  return Number.isSafeInteger(number) ? number : text;
}

function enumToBody(type: protobuf.Enum, value: unknown): unknown {
  const name = typeof value === "number" ? (type.valuesById[value] ?? String(value)) : String(value);
  return LOWER_CASE_ENUMS.has(fullName(type)) ? name.toLowerCase() : name;
}

function enumFromBody(type: protobuf.Enum, value: unknown): unknown {
  if (typeof value === "string" && LOWER_CASE_ENUMS.has(fullName(type))) return value.toUpperCase();
  return value;
}

function scalarToBody(field: protobuf.Field, value: unknown): unknown {
  if (field.resolvedType && !isType(field.resolvedType)) return enumToBody(field.resolvedType, value);
  if (INT64_TYPES.has(field.type)) return int64ToBody(value);
  if (field.type === "bytes") return Buffer.from(bytesOf(value)).toString("base64");
  return value;
}

/** Convert one field value (not a list or map) of a message object to its body form. */
function valueToBody(field: protobuf.Field, value: unknown): unknown {
  const type = field.resolvedType;
  if (!type || !isType(type)) return scalarToBody(field, value);
  if (!isObject(value)) return undefined;
  switch (fullName(type)) {
    case TIMESTAMP:
      return timestampToBody(value);
    case ANY: {
      const typeUrl = value[typeUrlKey(type)];
      return encodeAny({ typeUrl: typeof typeUrl === "string" ? typeUrl : "", value: bytesOf(value.value) });
    }
    default:
      return messageToBody(type, value);
  }
}

/** Convert a message object of `type` to an API body. */
export function messageToBody(type: protobuf.Type, message: Body): Body {
  const body: Body = {};
  for (const field of type.fieldsArray) {
    const value = message[field.name];
    if (value === undefined || value === null) continue;
    if (field.map) {
      if (!isObject(value)) continue;
      const map: Body = {};
      for (const key of Object.keys(value)) map[key] = valueToBody(field, value[key]);
      body[field.name] = map;
    } else if (field.repeated) {
      if (Array.isArray(value)) body[field.name] = value.map((item) => valueToBody(field, item));
    } else {
      const converted = valueToBody(field, value);
      if (converted !== undefined) body[field.name] = converted;
    }
  }
  return body;
}

const encoder = new TextEncoder();

function anyFromBody(any: protobuf.Type, value: Body): Body {
  const typeUrl = { [typeUrlKey(any)]: typeof value.typeUrl === "string" ? value.typeUrl : "" };
  if (typeof value.valueBase64 === "string") return { ...typeUrl, value: Buffer.from(value.valueBase64, "base64") };
  if (value.value === undefined || value.value === null) return typeUrl;
  if (value.value instanceof Uint8Array) return { ...typeUrl, value: Buffer.from(value.value) };
  if (value.value instanceof JsonBytes) return { ...typeUrl, value: Buffer.from(value.value.bytes) };
  return { ...typeUrl, value: Buffer.from(encoder.encode(JSON.stringify(value.value))) };
}

function valueFromBody(field: protobuf.Field, value: unknown): unknown {
  const type = field.resolvedType;
  if (type && !isType(type)) return enumFromBody(type, value);
  if (!type) return field.type === "bytes" ? Buffer.from(bytesOf(value)) : value;
  switch (fullName(type)) {
    case TIMESTAMP:
      return timestampFromBody(value);
    case ANY:
      return isObject(value) ? anyFromBody(type, value) : undefined;
    case FIELD_MASK:
      // The API takes a mask as a list of paths too.
      return Array.isArray(value) ? { paths: value } : isObject(value) ? value : undefined;
    default:
      return isObject(value) ? messageFromBody(type, value) : undefined;
  }
}

/** Convert an API body to a message object of `type`, ready for `fromObject`. */
export function messageFromBody(type: protobuf.Type, body: Body): Body {
  const message: Body = {};
  for (const field of type.fieldsArray) {
    const value = body[field.name];
    if (value === undefined || value === null) continue;
    if (field.map) {
      if (!isObject(value)) continue;
      const map: Body = {};
      for (const key of Object.keys(value)) map[key] = valueFromBody(field, value[key]);
      message[field.name] = map;
    } else if (field.repeated) {
      if (Array.isArray(value)) message[field.name] = value.map((item) => valueFromBody(field, item));
    } else {
      const converted = valueFromBody(field, value);
      if (converted !== undefined) message[field.name] = converted;
    }
  }
  return message;
}

/** Encode an API body as the protobuf bytes of `type`. */
export function encodeBody(type: protobuf.Type, body: Body): Uint8Array {
  return type.encode(type.fromObject(messageFromBody(type, body))).finish();
}
