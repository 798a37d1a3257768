/**
 * Appends events to the log stream with per-aggregate optimistic concurrency.
 *
 * Every append names the sequence of the last message it expects on the aggregate's
 * subject (0: none yet). JetStream rejects the append when another writer got there
 * first; that rejection becomes a typed Conflict, the only error the command
 * handler retries.
 */
import { headers as natsHeaders } from "@nats-io/nats-core";
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Conflict, Unavailable } from "../domain/errors.js";
import { decodeEnvelope, encodeEnvelope, type Envelope } from "../events/codec.js";
import type { Layout } from "./subjects.js";

export const EVENT_TYPE_HEADER = "Ctrmeta-Event-Type";

export interface AppendResult {
  seq: number;
  /** JetStream found the message id in its duplicate window and stored nothing. */
  duplicate: boolean;
}

export interface AppendRequest {
  subject: string;
  envelope: Envelope;
  /** Last sequence expected on the subject; 0 when it must have no message. */
  expectedSubjectSeq: number;
  /** Deduplication id within the stream's duplicate window. */
  msgId?: string;
}

export class EventStore {
  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: Layout,
  ) {}

  /** Encode and publish the event, expecting the subject's last sequence. */
  async append(request: AppendRequest): Promise<AppendResult> {
    const data = encodeEnvelope(request.envelope);
    const headers = natsHeaders();
    headers.set(EVENT_TYPE_HEADER, request.envelope.event.type);
    try {
      const ack = await this.js.publish(request.subject, data, {
        headers,
        expect: { lastSubjectSequence: request.expectedSubjectSeq },
        ...(request.msgId === undefined ? {} : { msgID: request.msgId }),
      });
      return { seq: ack.seq, duplicate: ack.duplicate };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) {
        throw new Conflict(`${request.subject} changed after sequence ${request.expectedSubjectSeq}`, { cause: error });
      }
      throw new Unavailable(`appending to ${this.layout.logStream} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Read and decode the event at `seq`. */
  async read(seq: number): Promise<Envelope> {
    const envelope = await this.find(seq);
    if (!envelope) throw new Unavailable(`event ${seq} is missing from ${this.layout.logStream}`);
    return envelope;
  }

  /** Read and decode the event at `seq`, or return undefined when the log has no message there. */
  async find(seq: number): Promise<Envelope | undefined> {
    const message = await this.jsm.streams.getMessage(this.layout.logStream, { seq });
    return message ? decodeEnvelope(message.data) : undefined;
  }

  /** Sequence of the last message on a subject, 0 when there is none. */
  async lastSubjectSeq(subject: string): Promise<number> {
    const message = await this.jsm.streams.getMessage(this.layout.logStream, { last_by_subj: subject });
    return message?.seq ?? 0;
  }

  /** Sequence of the stream's last message, 0 when empty. */
  async lastSeq(): Promise<number> {
    const info = await this.jsm.streams.info(this.layout.logStream);
    return info.state.last_seq;
  }
}
