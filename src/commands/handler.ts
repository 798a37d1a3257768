/**
 * Runs a command: decide on the current view, append the event with the expected
 * sequence of its aggregate, wait until the view has applied it, and return the
 * result or the error the event's verdict carries. The retry policy lives in the
 * lifecycle machine; this file only runs the effect of each state.
 */
import type { Logger } from "pino";
import type { CommandMeta, Decision, Verdict } from "../domain/decision.js";
import { Conflict, InvalidArgument, MetadataError, quote, Unavailable, UnknownError } from "../domain/errors.js";
import type { MetadataState } from "../domain/state.js";
import type { Clock } from "../domain/time.js";
import { ENVELOPE_VERSION, type Envelope } from "../events/codec.js";
import { EVENT_VERSIONS } from "../events/upcast.js";
import { aggregateOf, resultOf, type MetadataEvent } from "../events/types.js";
import type { EventStore } from "../nats/event-store.js";
import type { Layout } from "../nats/subjects.js";
import type { Projection } from "../projections/projection.js";
import { Lifecycle, type LifecycleEvent } from "./lifecycle.js";

/** Thrown inside the pipeline when JetStream reports the request's event as a duplicate. */
class DuplicateRequest extends Error {
  constructor(readonly seq: number) {
    super(`duplicate of the event at ${seq}`);
  }
}

export interface Command<R> {
  /** Namespace the event belongs to (for namespace commands: the target). */
  namespace: string;
  lease?: string;
  requestId: string;
  decide: (state: MetadataState, meta: CommandMeta) => Decision<R>;
  /**
   * Test of the event an earlier attempt of this command may have appended. When the
   * event with this request id fails the test or is in another namespace, the id was
   * reused by a different request, so the command fails InvalidArgument instead of
   * returning a result of another shape. When unset, any such event is replayed.
   */
  retryOf?: { operation: string; accepts: (event: MetadataEvent) => boolean };
}

export interface CommandOutcome<R> {
  result: R;
  /** Log sequence of the appended event; the view's position when nothing was appended. */
  revision: number;
  verdict?: Verdict;
}

export interface CommandHandlerOptions {
  maxAttempts?: number;
  /** How long to wait for the view to apply an appended event, in milliseconds. */
  applyTimeoutMs?: number;
  logger?: Logger;
}

export class CommandHandler {
  private readonly applyTimeoutMs: number;
  private readonly lifecycle: Lifecycle;
  private readonly log: Logger | undefined;
  /** Tail of the queue of this instance's commands per aggregate subject. */
  private readonly locks = new Map<string, Promise<void>>();

  constructor(
    private readonly projection: Projection,
    private readonly store: EventStore,
    private readonly layout: Layout,
    private readonly clock: Clock,
    options: CommandHandlerOptions = {},
  ) {
    this.applyTimeoutMs = options.applyTimeoutMs ?? 10_000;
    this.lifecycle = new Lifecycle(options.maxAttempts);
    this.log = options.logger;
  }

  async execute<R>(command: Command<R>): Promise<CommandOutcome<R>> {
    // A retried request gets the outcome of its first attempt, even long after it.
    const earlier = this.replayIfApplied(command);
    if (earlier) return earlier;

    let release: (() => void) | undefined;
    try {
      return await this.run(command, (subject) => {
        // Commands on one aggregate in this instance take turns instead of racing.
        release?.();
        release = undefined;
        const turn = this.lock(subject);
        if (typeof turn === "function") {
          release = turn;
          return undefined;
        }
        return turn.then((unlock) => {
          release = unlock;
        });
      });
    } finally {
      release?.();
    }
  }

  /** `lockSubject` returns undefined when it took the lock at once, without yielding. */
  private async run<R>(command: Command<R>, lockSubject: (subject: string) => Promise<void> | undefined): Promise<CommandOutcome<R>> {
    let snapshot = this.lifecycle.initial;
    let seq = 0;
    let decision: Decision<R> | undefined;
    let subject = "";
    let locked = "";
    let caughtUp = false;
    let failure: unknown;
    let verdict: Verdict | undefined;

    while (snapshot.status === "active") {
      let event: LifecycleEvent;
      switch (snapshot.value) {
        case "deciding": {
          // After a conflict or a catch-up, the view may contain this request's own
          // event. Its outcome is the result, because deciding again could fail (a second
          // delete fails NotFound).
          if (snapshot.context.attempts > 1 || caughtUp) {
            const earlier = this.replayIfApplied(command);
            if (earlier) return earlier;
          }
          const decidedAt = this.projection.seq;
          try {
            decision = this.decide(command);
            if (decision.event) subject = this.layout.aggregateSubject(command.namespace, aggregateOf(decision.event));
            if (decision.event && subject !== locked) {
              const waiting = lockSubject(subject);
              if (waiting) await waiting;
              locked = subject;
              // The view may have moved while this command waited for its turn,
              // possibly applying an earlier attempt of this very request. The
              // view changes only by applying events, so an unchanged sequence
              // means the decision is still valid and deciding again would only cost time.
              if (this.projection.seq !== decidedAt) {
                const earlier = this.replayIfApplied(command);
                if (earlier) return earlier;
                decision = this.decide(command);
                if (decision.event) subject = this.layout.aggregateSubject(command.namespace, aggregateOf(decision.event));
              }
            }
            event = decision.event ? { type: "decided" } : { type: "noChange" };
          } catch (error) {
            // A rejection may come from a view behind the log (another instance
            // just wrote). Decide once more on a view that has caught up, so
            // that an error never contradicts a write that came before it.
            if (!caughtUp && error instanceof MetadataError && (await this.catchUpWithLog(decidedAt))) {
              caughtUp = true;
              continue;
            }
            failure = error;
            event = { type: "invalid" };
          }
          break;
        }
        case "appending": {
          try {
            seq = await this.append(command, decision!, subject);
            event = { type: "appended" };
          } catch (error) {
            if (error instanceof DuplicateRequest) return this.replayDuplicate<R>(command, error.seq);
            failure = error;
            event = error instanceof Conflict ? { type: "conflict" } : { type: "unavailable" };
          }
          break;
        }
        case "catchingUp": {
          event = await this.catchUp(subject, snapshot.context.attempts).then(
            (): LifecycleEvent => ({ type: "caughtUp" }),
            (error: unknown): LifecycleEvent => {
              failure = error;
              return { type: "unavailable" };
            },
          );
          break;
        }
        case "applying": {
          try {
            seq = await this.appliedAt(command, seq);
            verdict = this.projection.verdict(seq);
            if (verdict?.rejected) {
              failure = verdict.rejected;
              event = { type: "rejected" };
            } else {
              event = { type: "applied" };
            }
          } catch (error) {
            failure = error;
            event = { type: "unavailable" };
          }
          break;
        }
        default:
          throw new Error(`command lifecycle has no effect for state ${String(snapshot.value)}`);
      }
      snapshot = this.lifecycle.next(snapshot, event);
    }

    if (snapshot.value === "failed") {
      if (snapshot.context.exhausted) {
        throw new Unavailable(`${subject} kept changing: gave up after ${snapshot.context.attempts} attempts`, { cause: failure });
      }
      throw failure instanceof MetadataError ? failure : new UnknownError(String((failure as Error)?.message ?? failure));
    }
    if (decision!.errorAfterApply) throw decision!.errorAfterApply;
    const revision = decision!.event ? seq : this.projection.seq;
    return verdict ? { result: decision!.result, revision, verdict } : { result: decision!.result, revision };
  }

  /**
   * Wait until the view has applied the whole log as it is now. Returns false when
   * the view had already applied it at `decidedAt`, the sequence the decision was
   * made at. The view may move while the log's position is read, so comparing with
   * its current sequence could mistake a rejection on an older view for a current one.
   */
  private async catchUpWithLog(decidedAt: number): Promise<boolean> {
    // Without the log's position the rejection might come from a stale view, so
    // report that the check failed rather than a possibly wrong result.
    const last = await this.store.lastSeq().catch((error: unknown) => {
      throw new Unavailable(`cannot check that the view is current: ${(error as Error).message}`, { cause: error });
    });
    if (last <= decidedAt) return false;
    await this.projection.waitFor(last, this.applyTimeoutMs);
    return true;
  }

  /** Return the replayed outcome of this request's earlier attempt, when the view has applied it. */
  private replayIfApplied<R>(command: Command<R>): Promise<CommandOutcome<R>> | undefined {
    const earlier = this.projection.requestOutcome(command.requestId);
    return earlier ? this.replay<R>(command, earlier.seq) : undefined;
  }

  /**
   * Return the outcome of the earlier attempt that JetStream reported this request
   * a duplicate of, at `seq`. The event there must carry this request's id. When it
   * does not, the request's own event is looked up in the view once the view has
   * caught up with the log. When the log does not contain it either, the request
   * was not applied and fails Unavailable, because a success would be a lost write.
   */
  private async replayDuplicate<R>(command: Command<R>, seq: number): Promise<CommandOutcome<R>> {
    const envelope = await this.store.find(seq);
    if (envelope?.req === command.requestId) return this.replay(command, seq, envelope);

    const last = await this.store.lastSeq();
    await this.projection.waitFor(last, this.applyTimeoutMs);
    const earlier = this.projection.requestOutcome(command.requestId);
    const found = envelope ? `an event of request ${quote(envelope.req)}` : "no event";
    this.log?.warn(
      { requestId: command.requestId, duplicateOf: seq, eventRequestId: envelope?.req, foundAt: earlier?.seq },
      "JetStream reported a request as a duplicate of an event with another request id",
    );
    if (earlier) return this.replay(command, earlier.seq);
    throw new Unavailable(
      `JetStream reported request ${quote(command.requestId)} as a duplicate of event ${seq}, where the log has ${found}, ` +
        `and the log does not contain this request, so it was not applied: retry with a new request id, or with this one after the stream's duplicate window`,
    );
  }

  /**
   * Rebuild the outcome of an earlier attempt from its event in the log. The event
   * at `seq` must carry this request's id. When the view recorded the request there
   * but the log has another request's event, the log changed under the view, and a
   * reply from that event would acknowledge a write the log does not have at `seq`.
   */
  private async replay<R>(command: Command<R>, seq: number, read?: Envelope): Promise<CommandOutcome<R>> {
    await this.projection.waitFor(seq, this.applyTimeoutMs);
    const outcome = this.projection.requestOutcomeAt(seq);
    const envelope = read ?? (await this.store.read(seq));
    if (envelope.req !== command.requestId) {
      this.log?.error(
        { requestId: command.requestId, seq, eventRequestId: envelope.req },
        "the view records this request at an event of another request: the log changed under the view; restart the instance to rebuild its view",
      );
      throw new Unavailable(
        `this instance's view records request ${quote(command.requestId)} at event ${seq}, where the log has an event of request ${quote(envelope.req)}: ` +
          `the log changed under the view, so retry, and restart the instance to rebuild its view`,
      );
    }
    const { retryOf } = command;
    if (retryOf && (envelope.ns !== command.namespace || !retryOf.accepts(envelope.event))) {
      throw new InvalidArgument(
        `Ctrmeta-Request-Id ${quote(command.requestId)} was already used by another request (event ${seq}, ${envelope.event.type} in namespace ${quote(envelope.ns)}): ` +
          `a retry must repeat the same request; send ${retryOf.operation} with a new request id`,
      );
    }
    if (outcome?.rejected) throw outcome.rejected;
    return { result: resultOf(envelope.event) as R, revision: seq };
  }

  private decide<R>(command: Command<R>): Decision<R> {
    const meta: CommandMeta = { namespace: command.namespace, now: this.clock.now(), requestId: command.requestId };
    if (command.lease !== undefined) meta.lease = command.lease;
    return command.decide(this.projection.state, meta);
  }

  /**
   * Take this instance's turn on `subject` and return the release function. It is
   * returned at once when no earlier command has or waits for the subject, so the
   * caller does not yield and its view cannot move. Otherwise a promise resolves to
   * it once the earlier commands have released the subject.
   */
  private lock(subject: string): (() => void) | Promise<() => void> {
    const previous = this.locks.get(subject);
    let release!: () => void;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous ? previous.then(() => turn) : turn;
    this.locks.set(subject, tail);
    const unlock = () => {
      release();
      if (this.locks.get(subject) === tail) this.locks.delete(subject);
    };
    return previous ? previous.then(() => unlock) : unlock;
  }

  private async append<R>(command: Command<R>, decision: Decision<R>, subject: string): Promise<number> {
    const envelope: Envelope = {
      v: ENVELOPE_VERSION,
      ev: EVENT_VERSIONS[decision.event!.type],
      ns: command.namespace,
      time: this.clock.now(),
      req: command.requestId,
      event: decision.event!,
    };
    const ack = await this.store.append({
      subject,
      envelope,
      expectedSubjectSeq: this.projection.subjectSeq(subject),
      msgId: command.requestId,
    });
    // The first attempt of this request is in the log already (a retry within the
    // stream's duplicate window): its outcome is the answer.
    if (ack.duplicate) throw new DuplicateRequest(ack.seq);
    return ack.seq;
  }

  /**
   * Wait until the view has applied this request's event, acknowledged at `seq`,
   * and return the sequence the view applied it at. The view takes events only from
   * the log's consumer, so that sequence is where the log has the event. It differs
   * from `seq` only when JetStream acknowledged another sequence than it stored the
   * event at, which nats-server 2.9.10 did after leader changes in our fault tests.
   */
  private async appliedAt<R>(command: Command<R>, seq: number): Promise<number> {
    await this.projection.waitFor(seq, this.applyTimeoutMs);
    let applied = this.projection.requestOutcome(command.requestId);
    if (applied?.seq === seq) return seq;
    if (!applied) {
      await this.projection.waitFor(await this.store.lastSeq(), this.applyTimeoutMs);
      applied = this.projection.requestOutcome(command.requestId);
    }
    this.log?.warn({ requestId: command.requestId, acknowledgedAt: seq, appliedAt: applied?.seq }, "JetStream acknowledged an event at another sequence than the log has it");
    if (!applied) {
      throw new Unavailable(
        `JetStream acknowledged the event of request ${quote(command.requestId)} at ${seq}, but the log does not contain it: ` +
          `retry with a new request id, or with this one after the stream's duplicate window`,
      );
    }
    return applied.seq;
  }

  /**
   * Wait until the view includes the last message on the subject that beat us,
   * plus a short random pause so that writers on other instances spread out.
   */
  private async catchUp(subject: string, attempt: number): Promise<void> {
    const last = await this.store.lastSubjectSeq(subject);
    await this.projection.waitFor(last, this.applyTimeoutMs);
    await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 * attempt)));
  }
}
