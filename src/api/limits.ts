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

/** Reject a decision whose event would write a record larger than `maxBytes`. */
export function limitRecordSize<R>(decision: Decision<R>, maxBytes: number): Decision<R> {
  const record = decision.event === undefined ? undefined : recordOf(decision.event);
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
