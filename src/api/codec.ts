/**
 * Request and reply bodies: JSON by default, MessagePack when the request's
 * `Content-Type` header says `application/msgpack`; replies use the request's.
 */
import type { MsgHdrs } from "@nats-io/nats-core";
import { Unpackr } from "msgpackr";
import { InvalidArgument } from "../domain/errors.js";
import { packValue } from "../events/codec.js";
import { stringifyBody, withParsedJson } from "./json-bytes.js";
import type { Body } from "./wire.js";

export const CONTENT_TYPE_HEADER = "Content-Type";
export const MSGPACK = "application/msgpack";
export const JSON_TYPE = "application/json";

export interface Codec {
  contentType: string;
  decode(data: Uint8Array): unknown;
  encode(value: unknown): Uint8Array;
  /**
   * Encode `{[field]: items}` as one or more bodies of at most `maxBytes` each
   * (a single item larger than that gets a body of its own), encoding every item once.
   */
  encodeList(field: string, items: readonly Body[], maxBytes: number): Uint8Array[];
}

const encoder = new TextEncoder();

/** Maximum nesting of arrays and objects in a request body, counting the body itself as level 1. */
export const MAX_BODY_DEPTH = 100;

/** A lone UTF-16 surrogate: JSON can escape one (`"\ud800"`), but UTF-8 cannot carry it. */
const LONE_SURROGATE = /[\ud800-\udfff]/u;

/** Format where a value sits in the body, for error messages: `request body["a"][0]`. */
function pathOf(keys: ReadonlyArray<string | number>): string {
  let path = "request body";
  for (const key of keys) path += typeof key === "number" ? `[${key}]` : `[${JSON.stringify(key)}]`;
  return path.length > 200 ? `${path.slice(0, 197)}...` : path;
}

function typeName(value: unknown): string {
  if (typeof value !== "object" || value === null) return typeof value;
  return value.constructor?.name ?? "object";
}

/**
 * Check a decoded body and copy its objects and MessagePack maps into null-prototype
 * objects, keeping the order of keys. Only JSON's values and MessagePack binary are
 * accepted: no extension types (dates, sets, typed arrays), no string that UTF-8
 * cannot carry, no non-finite number, and at most MAX_BODY_DEPTH levels, which also
 * bounds the recursion. A 64-bit MessagePack integer becomes a number when it is a
 * safe integer.
 */
export function checkBody(root: unknown): unknown {
  return checkValue(root, 1, []);
}

/** `keys` is the path to `value`; it is restored before returning. */
function checkValue(value: unknown, depth: number, keys: Array<string | number>): unknown {
  const reject = (problem: string) => new InvalidArgument(`${pathOf(keys)}: ${problem}`);
  switch (typeof value) {
    case "string":
      if (LONE_SURROGATE.test(value)) throw reject("string contains a lone UTF-16 surrogate, which is not valid Unicode");
      return value;
    case "number":
      if (!Number.isFinite(value)) throw reject(`number ${value} is out of range`);
      return value;
    case "boolean":
    case "undefined":
      return value;
    case "bigint":
      if (value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw reject(`integer ${value} is out of range (at most 2^53 - 1 in magnitude)`);
      }
      return Number(value);
    default:
      break;
  }
  if (value === null || value instanceof Uint8Array) return value;
  const isArray = Array.isArray(value);
  if (!isArray && !(value instanceof Map) && Object.getPrototypeOf(value) !== Object.prototype) throw reject(`unsupported value of type ${typeName(value)}`);
  if (depth > MAX_BODY_DEPTH) throw reject(`nested deeper than the maximum of ${MAX_BODY_DEPTH} levels`);
  if (isArray) {
    const items = value as unknown[];
    const out: unknown[] = new Array<unknown>(items.length);
    for (let index = 0; index < items.length; index++) {
      keys.push(index);
      out[index] = checkValue(items[index], depth + 1, keys);
      keys.pop();
    }
    return out;
  }
  const out = Object.create(null) as Record<string, unknown>;
  const entries: Iterable<[unknown, unknown]> = value instanceof Map ? value : Object.entries(value as object);
  for (const [key, item] of entries) {
    if (typeof key !== "string") throw reject(`map key of type ${typeName(key)}: expected a string`);
    if (LONE_SURROGATE.test(key)) throw reject(`key ${JSON.stringify(key)} contains a lone UTF-16 surrogate, which is not valid Unicode`);
    keys.push(key);
    out[key] = checkValue(item, depth + 1, keys);
    keys.pop();
  }
  return out;
}

/** Group encoded items into chunks whose summed size stays within `maxBytes`. */
function group<T extends { length: number }>(parts: readonly T[], maxBytes: number): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const part of parts) {
    if (current.length > 0 && size + part.length + 1 > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(part);
    size += part.length + 1;
  }
  if (current.length > 0 || chunks.length === 0) chunks.push(current);
  return chunks;
}

export const JSON_CODEC: Codec = {
  contentType: JSON_TYPE,
  decode(data) {
    if (data.length === 0) return {};
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(data);
    } catch {
      throw new InvalidArgument("request body is not valid UTF-8");
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text) as unknown;
    } catch (error) {
      throw new InvalidArgument(`request body is not valid JSON: ${(error as Error).message}`);
    }
    return checkBody(parsed);
  },
  encode(value) {
    return encoder.encode(stringifyBody(value));
  },
  encodeList(field, items, maxBytes) {
    const parts = items.map((item) => stringifyBody(item));
    const prefix = `{${JSON.stringify(field)}:[`;
    return group(parts, maxBytes).map((chunk) => encoder.encode(`${prefix}${chunk.join(",")}]}`));
  },
};

/**
 * Decoder of MessagePack request bodies: maps stay `Map`s (so a `__proto__` key is
 * plain data) until checkBody converts them, and msgpackr's structured-clone
 * references, which can build cycles, are refused.
 * NOTE: msgpackr replaces invalid UTF-8 in a string with U+FFFD instead of failing,
 * so such a string is accepted in its replaced form, where a JSON body is rejected.
 */
const requestUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, structuredClone: false });

/** MessagePack header of an array of `count` elements. */
function arrayHeader(count: number): Uint8Array {
  if (count < 16) return Uint8Array.of(0x90 | count);
  if (count < 0x10000) return Uint8Array.of(0xdc, count >> 8, count & 0xff);
  return Uint8Array.of(0xdd, (count >>> 24) & 0xff, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff);
}

export const MSGPACK_CODEC: Codec = {
  contentType: MSGPACK,
  decode(data) {
    if (data.length === 0) return {};
    let unpacked: unknown;
    try {
      unpacked = requestUnpackr.unpack(data);
    } catch (error) {
      if (error instanceof RangeError && /call stack/.test(error.message)) {
        throw new InvalidArgument(`request body is not valid MessagePack: nested deeper than the maximum of ${MAX_BODY_DEPTH} levels`);
      }
      throw new InvalidArgument(`request body is not valid MessagePack: ${(error as Error).message}`);
    }
    return checkBody(unpacked);
  },
  encode: (value) => packValue(withParsedJson(value)),
  encodeList(field, items, maxBytes) {
    const parts = items.map((item) => packValue(withParsedJson(item)));
    const key = packValue(field);
    return group(parts, maxBytes).map((chunk) => {
      const header = arrayHeader(chunk.length);
      const size = 1 + key.length + header.length + chunk.reduce((sum, part) => sum + part.length, 0);
      const body = new Uint8Array(size);
      body[0] = 0x81; // a map of one entry
      body.set(key, 1);
      body.set(header, 1 + key.length);
      let offset = 1 + key.length + header.length;
      for (const part of chunk) {
        body.set(part, offset);
        offset += part.length;
      }
      return body;
    });
  },
};

export function codecFor(headers: MsgHdrs | undefined): Codec {
  return headers?.get(CONTENT_TYPE_HEADER) === MSGPACK ? MSGPACK_CODEC : JSON_CODEC;
}
