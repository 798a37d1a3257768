/**
 * Views of the past: the state as it was after a given log sequence, or at a given
 * time, built by replaying the log up to that point (from the latest view snapshot
 * when it is not newer). The last few views built are kept for repeated queries.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { ObjectStore } from "@nats-io/obj";
import { InvalidArgument } from "../domain/errors.js";
import { parseRfc3339, rfc3339Problem } from "../domain/time.js";
import type { Layout } from "../nats/subjects.js";
import { Projection } from "./projection.js";
import { readSnapshot } from "./snapshot.js";

/** Views kept for repeated queries at the same point. */
const CACHED_VIEWS = 2;

export class AsOfViews {
  private readonly cache = new Map<number, Promise<Projection>>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly layout: Layout,
    private readonly snapshots: ObjectStore | undefined,
  ) {}

  /** Parse `SEQ` or an RFC 3339 time into the log sequence it designates. */
  async resolve(at: string): Promise<number> {
    if (/^\d+$/.test(at)) {
      const seq = Number(at);
      const last = (await this.jsm.streams.info(this.layout.logStream)).state.last_seq;
      if (seq > last) throw new InvalidArgument(`at ${at}: the log ends at ${last}`);
      return seq;
    }
    if (parseRfc3339(at) === undefined) {
      const problem = rfc3339Problem(at) ?? "not a time JavaScript can represent";
      throw new InvalidArgument(`at ${JSON.stringify(at)}: expected a log sequence or an RFC 3339 time (${problem})`);
    }
    return this.seqAtTime(new Date(at));
  }

  /** The last sequence stored at or before `time`; 0 when the log starts after it. */
  private async seqAtTime(time: Date): Promise<number> {
    const consumer = await this.js.consumers.get(this.layout.logStream, {
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: time.toISOString(),
      headers_only: true,
    });
    const batch = await consumer.fetch({ max_messages: 1, expires: 2000 });
    for await (const message of batch) return message.seq - 1;
    return (await this.jsm.streams.info(this.layout.logStream)).state.last_seq;
  }

  /** The view as it was right after `seq`. */
  view(seq: number): Promise<Projection> {
    let view = this.cache.get(seq);
    if (!view) {
      view = this.build(seq);
      view.catch(() => this.cache.delete(seq));
      this.cache.set(seq, view);
      if (this.cache.size > CACHED_VIEWS) this.cache.delete(this.cache.keys().next().value!);
    }
    return view;
  }

  private async build(seq: number): Promise<Projection> {
    const projection = new Projection();
    const image = this.snapshots ? await readSnapshot(this.snapshots).catch(() => undefined) : undefined;
    if (image && image.seq <= seq) projection.restore(image);
    if (projection.seq >= seq) return projection;

    const consumer = await this.js.consumers.get(this.layout.logStream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: projection.seq + 1,
    });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const message of messages) {
      if (message.seq > seq) break;
      projection.apply(message.seq, message.subject, message.data);
      if (message.seq >= seq) break;
    }
    await messages.close();
    projection.skipTo(seq);
    return projection;
  }
}
