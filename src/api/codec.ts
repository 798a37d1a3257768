/**
 * Request and reply bodies: JSON by default, MessagePack when the request's
 * `Content-Type` header says `application/msgpack`; replies use the request's.
 */
import type { MsgHdrs } from "@nats-io/nats-core";
import { InvalidArgument } from "../domain/errors.js";
import { packValue, unpackValue } from "../events/codec.js";
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
    const text = new TextDecoder("utf-8", { fatal: false }).decode(data);
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw new InvalidArgument(`request body is not valid JSON: ${(error as Error).message}`);
    }
  },
  encode(value) {
    return encoder.encode(JSON.stringify(value));
  },
  encodeList(field, items, maxBytes) {
    const parts = items.map((item) => JSON.stringify(item));
    const prefix = `{${JSON.stringify(field)}:[`;
    return group(parts, maxBytes).map((chunk) => encoder.encode(`${prefix}${chunk.join(",")}]}`));
  },
};

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
    try {
      return unpackValue(data);
    } catch (error) {
      throw new InvalidArgument(`request body is not valid MessagePack: ${(error as Error).message}`);
    }
  },
  encode: packValue,
  encodeList(field, items, maxBytes) {
    const parts = items.map((item) => packValue(item));
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
