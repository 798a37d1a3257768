/**
 * Stored JSON carried into a reply as it is. A container's spec is kept as the
 * bytes of its compact JSON. A JSON reply used to parse them and serialize the
 * result again, most of the cost of serializing a List reply. A `JsonBytes` in a
 * reply body is spliced into the JSON text by `stringifyBody`, passed as bytes to
 * gRPC, and parsed for MessagePack (`withParsedJson`).
 */
import { randomBytes } from "node:crypto";

const decoder = new TextDecoder("utf-8", { fatal: true });

/** Bytes known to be the compact JSON serialization of their value (see `isCompactJson`). */
export class JsonBytes {
  constructor(readonly bytes: Uint8Array) {}

  get text(): string {
    return decoder.decode(this.bytes);
  }

  /**
   * Return a placeholder for the text inside `stringifyBody`, and the parsed value
   * anywhere else, so that any other serializer still writes the right JSON.
   */
  toJSON(): unknown {
    if (splicing === undefined) return JSON.parse(this.text) as unknown;
    splicing.push(this.text);
    return `${PLACEHOLDER_START}${splicing.length - 1}`;
  }
}

/**
 * A string no request can put in a reply: it starts with U+0000 and a random
 * token chosen when the process starts, unknown to clients.
 */
const TOKEN = randomBytes(12).toString("hex");
const PLACEHOLDER_START = `\u0000${TOKEN}:`;
/** The placeholder as JSON.stringify writes it: U+0000 becomes the escape `\u0000`. */
const SERIALIZED_PLACEHOLDER = new RegExp(`"\\\\u0000${TOKEN}:(\\d+)"`, "g");

/** Texts of the JsonBytes met by the `stringifyBody` call in progress. */
let splicing: string[] | undefined;

/** Serialize `value` as JSON, writing the text of each JsonBytes in it as it is. */
export function stringifyBody(value: unknown): string {
  const texts: string[] = [];
  splicing = texts;
  let json: string;
  try {
    json = JSON.stringify(value);
  } finally {
    splicing = undefined;
  }
  if (texts.length === 0) return json;
  return json.replace(SERIALIZED_PLACEHOLDER, (_match, index: string) => texts[Number(index)]!);
}

/**
 * Return `value` with every JsonBytes in it replaced by its parsed value, copying
 * only the objects and arrays on the way to one.
 */
export function withParsedJson(value: unknown): unknown {
  if (value instanceof JsonBytes) return JSON.parse(value.text) as unknown;
  if (typeof value !== "object" || value === null || value instanceof Uint8Array) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let index = 0; index < value.length; index++) {
      const item = value[index] as unknown;
      const converted = withParsedJson(item);
      if (converted !== item) {
        copy ??= value.slice();
        copy[index] = converted;
      }
    }
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) {
    const item = source[key];
    const converted = withParsedJson(item);
    if (converted !== item) {
      if (copy === undefined) {
        copy = Object.create(Object.getPrototypeOf(source) as object | null) as Record<string, unknown>;
        for (const other of Object.keys(source)) {
          Object.defineProperty(copy, other, { value: source[other], enumerable: true, writable: true, configurable: true });
        }
      }
      Object.defineProperty(copy, key, { value: converted, enumerable: true, writable: true, configurable: true });
    }
  }
  return copy ?? value;
}
