/**
 * The log's message format: plain MessagePack (no msgpackr records, which would need
 * structures shared outside the log) holding a versioned envelope.
 *
 * Maps are decoded as `Map` and turned into null-prototype objects, because msgpackr's
 * object mode renames a `__proto__` key, and label keys are user input.
 */
import { Packr, Unpackr } from "msgpackr";
import type { Timestamp } from "../domain/time.js";
import type { MetadataEvent } from "./types.js";
import { EVENT_VERSIONS, upcast } from "./upcast.js";
import { emptyMap } from "../domain/labels.js";

/** Version of the envelope layout. */
export const ENVELOPE_VERSION = 1;


export interface Envelope {
  /** Envelope layout version. */
  v: number;
  /** Payload version of this event type (see `upcast.ts`); absent in version 0. */
  ev: number;
  /** Namespace the event belongs to; for namespace events, the namespace itself. */
  ns: string;
  time: Timestamp;
  /** Request id of the command that appended the event. */
  req: string;
  event: MetadataEvent;
}

const packr = new Packr({ useRecords: false, variableMapSize: true });
/**
 * `copyBuffers`: binary values (a container's spec, runtime options) get their own
 * memory. Without it they are views into the buffer the message arrived in,
 * which the NATS client shares among many messages, so every record the view
 * keeps would also keep its neighbours' bytes alive.
 */
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, copyBuffers: true });

export function packValue(value: unknown): Uint8Array {
  return packr.pack(value);
}

/** Decode MessagePack into plain values, with objects that inherit nothing for maps (see emptyMap). */
export function unpackValue(bytes: Uint8Array): unknown {
  return toPlain(unpackr.unpack(bytes));
}

/** Strings up to this length are shared between the records decoded from the log. */
const SHARED_STRING_MAX_LENGTH = 64;
/** Distinct strings remembered for sharing; the table starts again when it is full. */
const SHARED_STRINGS_MAX = 16_384;
let sharedStrings = new Map<string, string>();

/**
 * Return the shared copy of a short string seen before. Records repeat the same
 * image, runtime, snapshotter, type URL and label values, and each decoded copy
 * costs its own 30 to 80 bytes in every record the view keeps (an estimate).
 */
function shared(text: string): string {
  if (text.length > SHARED_STRING_MAX_LENGTH) return text;
  const known = sharedStrings.get(text);
  if (known !== undefined) return known;
  if (sharedStrings.size >= SHARED_STRINGS_MAX) sharedStrings = new Map();
  sharedStrings.set(text, text);
  return text;
}

function toPlain(value: unknown): unknown {
  if (typeof value === "string") return shared(value);
  if (value instanceof Map) {
    const out = emptyMap<unknown>();
    for (const [key, inner] of value) out[String(key)] = toPlain(inner);
    return out;
  }
  if (Array.isArray(value)) return value.map(toPlain);
  return value;
}

export function encodeEnvelope(envelope: Envelope): Uint8Array {
  return packValue(envelope);
}

export class EnvelopeError extends Error {}

/** Decode and check an envelope; throws EnvelopeError for anything it cannot read. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const value = unpackValue(bytes) as Partial<Envelope> | null;
  if (value === null || typeof value !== "object") throw new EnvelopeError("event is not a MessagePack map");
  if (value.v !== ENVELOPE_VERSION) throw new EnvelopeError(`unsupported envelope version ${String(value.v)}`);
  if (typeof value.event !== "object" || value.event === null || typeof value.event.type !== "string") {
    throw new EnvelopeError("envelope has no event type");
  }
  if (typeof value.ns !== "string" || typeof value.time !== "string") throw new EnvelopeError("envelope lacks namespace or time");
  const version = typeof value.ev === "number" ? value.ev : 0;
  const event = upcast(value.event as unknown as Record<string, unknown> & { type: string }, version) as unknown as MetadataEvent;
  return { ...(value as Envelope), ev: EVENT_VERSIONS[event.type], event };
}
