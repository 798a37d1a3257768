/**
 * The size limit on records that writes may produce, applied before an event is
 * appended: a record that fits can always be appended to the log and returned in
 * one reply, in JSON and in MessagePack.
 */
import type { CommandHandler, CommandOutcome, Command } from "../commands/handler.js";
import type { Decision } from "../domain/decision.js";
import { InvalidArgument, quote } from "../domain/errors.js";
import type { MetadataEvent } from "../events/types.js";
import { packValue } from "../events/codec.js";
import { encodeContainer, encodeContentInfo, encodeImage, encodeLease, encodeSnapshot, type Body } from "./wire.js";

/**
 * Maximum encoded size of one record, in bytes. Half of nats-server's default
 * max payload (1 MiB), so that the event that carries the record and the reply
 * that returns it both fit with their headers. A smaller server max payload
 * lowers it to half of that.
 */
export const RECORD_MAX_BYTES = 512 * 1024;

/** The command executor of the API: the command handler, or a wrapper of it. */
export type Commands = Pick<CommandHandler, "execute">;

/** The record an event writes, as the API returns it, and how messages name it. */
function recordOf(event: MetadataEvent): { name: string; body: Body } | undefined {
  switch (event.type) {
    case "container.created":
    case "container.updated":
      return { name: `container ${quote(event.container.id)}`, body: encodeContainer(event.container) };
    case "image.created":
    case "image.updated":
      return { name: `image ${quote(event.image.name)}`, body: encodeImage(event.image) };
    case "content.committed":
    case "content.updated":
      return { name: `content ${event.info.digest}`, body: encodeContentInfo(event.info) };
    case "snapshot.prepared":
    case "snapshot.committed":
    case "snapshot.updated":
      return { name: `snapshot ${quote(event.snapshot.name)}`, body: encodeSnapshot(event.snapshot) };
    case "lease.created":
      return { name: `lease ${quote(event.lease.id)}`, body: encodeLease(event.lease) };
    case "namespace.created":
    case "namespace.updated":
      // The notification carries the request's labels, the record the stored ones.
      return { name: `namespace ${quote(event.name)}`, body: { name: event.name, labels: event.labels, requestLabels: event.requestLabels } };
    default:
      return undefined;
  }
}

/** Encoded size of a record: the larger of its JSON and MessagePack encodings. */
export function encodedSize(body: Body): number {
  return Math.max(Buffer.byteLength(JSON.stringify(body), "utf8"), packValue(body).length);
}

/** Room for the fields and defaults an API encoding adds to a record. */
const ENCODING_ROOM = 1024;

/**
 * Return an upper bound of the JSON and MessagePack encodings of the record in
 * `value`: a UTF-16 unit takes at most 6 bytes in JSON (`\u0000`), bytes at most 3
 * times their length (base64, or JSON text whose numbers MessagePack may widen to
 * 9-byte floats), and a number or keyword at most 32.
 */
export function sizeBound(value: unknown, depth = 0): number {
  if (typeof value === "string") return 6 * value.length + 8;
  if (value instanceof Uint8Array) return 3 * value.length + 16;
  if (value === null || typeof value !== "object") return 32;
  if (depth > 64) return Number.POSITIVE_INFINITY;
  let total = 16;
  if (Array.isArray(value)) {
    for (const item of value) total += sizeBound(item, depth + 1) + 1;
  } else {
    for (const [key, item] of Object.entries(value)) total += 6 * key.length + 8 + sizeBound(item, depth + 1);
  }
  return total;
}

/** Reject a decision whose event would write a record larger than `maxBytes`. */
export function limitRecordSize<R>(decision: Decision<R>, maxBytes: number): Decision<R> {
  // Encoding the record to measure it costs as much as the rest of the command,
  // so a bound taken from the event settles almost every write without encoding.
  if (decision.event === undefined || sizeBound(decision.event) + ENCODING_ROOM <= maxBytes) return decision;
  const record = recordOf(decision.event);
  if (record === undefined) return decision;
  const size = encodedSize(record.body);
  if (size > maxBytes) {
    throw new InvalidArgument(
      `${record.name}: the record would encode to ${size} bytes, above the maximum of ${maxBytes} bytes; ` +
        "make its labels, annotations, spec or extensions smaller",
    );
  }
  return decision;
}

/** Compute the record limit for a server with this max payload. */
export function recordLimit(maxPayload: number): number {
  return Math.min(RECORD_MAX_BYTES, Math.floor(maxPayload / 2));
}

/** Commands whose decisions are checked against the record limit before anything is appended. */
export function limitedCommands(commands: Commands, maxBytes: number): Commands {
  return {
    execute<R>(command: Command<R>): Promise<CommandOutcome<R>> {
      return commands.execute({ ...command, decide: (state, meta) => limitRecordSize(command.decide(state, meta), maxBytes) });
    },
  };
}
