/**
 * A protobuf Any: a type URL and opaque bytes. Container specs carry the OCI
 * runtime spec as JSON bytes; runtime options carry protobuf bytes.
 */
export interface AnyValue {
  typeUrl: string;
  value: Uint8Array;
}

const decoder = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * The JSON value of bytes made by anyFromJson, while the bytes live: a request's
 * record is encoded again for its size check and its reply, and parsing the bytes
 * back each time was a tenth of a CreateContainer's CPU time. Records the view
 * decodes from the log have bytes of their own and are not in it.
 */
const madeFromJson = new WeakMap<Uint8Array, unknown>();

export function anyFromJson(typeUrl: string, json: unknown): AnyValue {
  const value = encoder.encode(JSON.stringify(json));
  madeFromJson.set(value, json);
  return { typeUrl, value };
}

/**
 * Verdicts on whether bytes are the compact JSON of their value, kept while the
 * bytes live, so that a record read again (a repeated Get, every List) is not
 * parsed again.
 */
const compactJson = new WeakMap<Uint8Array, boolean>();

/**
 * Return the bytes parsed as JSON when they are exactly the compact JSON
 * serialisation of that value, so that a value sent as JSON comes back as JSON
 * and anything else comes back as base64.
 */
export function anyJsonValue(value: Uint8Array): { json: unknown } | undefined {
  if (madeFromJson.has(value)) return { json: madeFromJson.get(value) };
  if (compactJson.get(value) === false) return undefined;
  const parsed = parseCompact(value);
  compactJson.set(value, parsed !== undefined);
  return parsed;
}

/** Tell whether the bytes are exactly the compact JSON serialisation of their value (see anyJsonValue). */
export function isCompactJson(value: Uint8Array): boolean {
  if (madeFromJson.has(value)) return true;
  return compactJson.get(value) ?? anyJsonValue(value) !== undefined;
}

function parseCompact(value: Uint8Array): { json: unknown } | undefined {
  if (value.length === 0) return undefined;
  let text: string;
  try {
    text = decoder.decode(value);
  } catch {
    return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  return JSON.stringify(parsed) === text ? { json: parsed } : undefined;
}

export function anyEquals(a: AnyValue | undefined, b: AnyValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.typeUrl === b.typeUrl && Buffer.from(a.value).equals(Buffer.from(b.value));
}
