/**
 * The in-memory view built from the log, in log order.
 *
 * It keeps the state, the last sequence of every aggregate subject (what the next
 * append on that subject must expect), and the verdict of recent events so that a
 * command can reply with what its event did once the view includes it.
 */
import type { Verdict } from "../domain/decision.js";
import { DeadlineExceeded, UnknownError, type MetadataError } from "../domain/errors.js";
import { emptyState, type MetadataState } from "../domain/state.js";
import { decodeEnvelope, type Envelope } from "../events/codec.js";
import { FutureEventError } from "../events/upcast.js";
import { evolve } from "./evolve.js";

export interface AppliedEvent {
  seq: number;
  subject: string;
  /** Undefined when the message could not be decoded. */
  envelope?: Envelope;
  verdict: Verdict;
}

export type AppliedListener = (applied: AppliedEvent) => void;

/** The view's state and indexes at one log position, as snapshots store them. */
export interface ProjectionImage {
  state: MetadataState;
  seq: number;
  lastEventTime: string;
  subjectSeqs: Map<string, number>;
  requests: Map<string, RequestOutcome>;
}

/** How many recent verdicts are kept for commands that have not read theirs yet. */
const VERDICT_HISTORY = 65_536;

/** How many request ids the view remembers, so that a retried request gets its original outcome. */
export const REQUEST_HISTORY = 1_000_000;

/** Where a request's event sits in the log, and the error it was rejected with, if any. */
export interface RequestOutcome {
  seq: number;
  rejected?: MetadataError;
}

interface Waiter {
  seq: number;
  resolve: () => void;
}

/** Stored verdict of most events: accepted, with nothing to report. */
const ACCEPTED: Verdict = Object.freeze({ notifications: Object.freeze([]) as unknown as Verdict["notifications"] & [] }) as Verdict;

/**
 * Reduce a verdict to what commands read after the event was applied. The
 * notifications went to the listeners at apply time and can contain whole records,
 * so they are dropped, and accepted verdicts share one object.
 */
function storedVerdict(verdict: Verdict): Verdict {
  if (verdict.rejected) return { rejected: verdict.rejected };
  if (verdict.outcome === undefined && !verdict.dirty) return ACCEPTED;
  const stored: Verdict = { notifications: [], outcome: verdict.outcome };
  if (verdict.dirty) stored.dirty = true;
  return stored;
}

/** How far a bounded map may grow past its bound before its oldest entries go. */
const EVICTION_BATCH = 4096;

/**
 * Keep at least `bound` of a map's newest entries, deleting the oldest in batches.
 * Deleting one oldest entry per insertion costs a walk over every entry deleted
 * before it (V8 keeps them as holes until the table is rebuilt): at 65,536 entries
 * that was 15 µs per event, most of a rebuild's time.
 */
function evictOldest<K, V>(map: Map<K, V>, bound: number): void {
  if (map.size <= bound + EVICTION_BATCH) return;
  let excess = map.size - bound;
  for (const key of map.keys()) {
    if (excess-- <= 0) break;
    map.delete(key);
  }
}

export class Projection {
  state: MetadataState = emptyState();
  /** Sequence of the last applied message. */
  seq = 0;
  /** Log time of the last applied event. */
  lastEventTime = "";
  /** Messages the projection could not decode, skipped as rejected. */
  undecodable = 0;
  /**
   * Count of messages delivered again at a sequence this view applied, but on a
   * subject whose last event in the view is older. The log changed under the view.
   */
  divergences = 0;

  private subjectSeqs = new Map<string, number>();
  private readonly verdicts = new Map<number, Verdict>();
  private requests = new Map<string, RequestOutcome>();
  private readonly waiters: Waiter[] = [];
  private readonly listeners: AppliedListener[] = [];
  private readonly divergenceListeners: Array<(seq: number, subject: string) => void> = [];

  /** The sequence an append on `subject` must expect, as far as this view knows. */
  subjectSeq(subject: string): number {
    return this.subjectSeqs.get(subject) ?? 0;
  }

  /** Call `listener` with the sequence and subject of each message counted in `divergences`. */
  onDiverged(listener: (seq: number, subject: string) => void): void {
    this.divergenceListeners.push(listener);
  }

  onApplied(listener: AppliedListener): () => void {
    this.listeners.push(listener);
    return () => {
      const index = this.listeners.indexOf(listener);
      if (index >= 0) this.listeners.splice(index, 1);
    };
  }

  /**
   * Apply one log message. Messages at or below the current sequence were applied
   * already: an ordered consumer that starts again may deliver them once more.
   */
  apply(seq: number, subject: string, data: Uint8Array): AppliedEvent | undefined {
    if (seq <= this.seq) {
      // The view applied an event on this subject at `seq` or later, unless the
      // message at `seq` is no longer the one the view applied there.
      if ((this.subjectSeqs.get(subject) ?? 0) < seq) {
        this.divergences++;
        for (const listener of this.divergenceListeners) listener(seq, subject);
      }
      return undefined;
    }
    let envelope: Envelope | undefined;
    let unreadable: Error | undefined;
    try {
      envelope = decodeEnvelope(data);
    } catch (error) {
      // Applying later events without this one would build a wrong view: stop here.
      if (error instanceof FutureEventError) throw error;
      unreadable = error as Error;
    }
    this.seq = seq;
    this.subjectSeqs.set(subject, seq);

    let applied: AppliedEvent;
    try {
      if (!envelope) throw unreadable!;
      const verdict = evolve(this.state, envelope.ns, envelope.event, seq);
      this.lastEventTime = envelope.time;
      applied = { seq, subject, envelope, verdict };
    } catch (error) {
      this.undecodable++;
      applied = { seq, subject, verdict: { rejected: new UnknownError(`event ${seq} on ${subject} is unreadable: ${(error as Error).message}`) } };
    }

    this.verdicts.set(seq, storedVerdict(applied.verdict));
    evictOldest(this.verdicts, VERDICT_HISTORY);
    const requestId = applied.envelope?.req;
    if (requestId && !this.requests.has(requestId)) {
      this.requests.set(requestId, applied.verdict.rejected ? { seq, rejected: applied.verdict.rejected } : { seq });
      evictOldest(this.requests, REQUEST_HISTORY);
    }
    for (const listener of this.listeners) listener(applied);
    this.releaseWaiters();
    return applied;
  }

  /** The live state and indexes; copy them before yielding to other work. */
  image(): ProjectionImage {
    return { state: this.state, seq: this.seq, lastEventTime: this.lastEventTime, subjectSeqs: this.subjectSeqs, requests: this.requests };
  }

  /** Start from a snapshot instead of the first event; only an empty view can. */
  restore(image: ProjectionImage): void {
    if (this.seq !== 0) throw new Error(`cannot restore a snapshot into a view at ${this.seq}`);
    this.state = image.state;
    this.seq = image.seq;
    this.lastEventTime = image.lastEventTime;
    this.subjectSeqs = image.subjectSeqs;
    this.requests = image.requests;
    this.releaseWaiters();
  }

  /** Move the position without an event, e.g. after loading a snapshot. */
  skipTo(seq: number): void {
    if (seq > this.seq) this.seq = seq;
    this.releaseWaiters();
  }

  /** The outcome of an earlier request with this id, if the view remembers one. */
  requestOutcome(requestId: string): RequestOutcome | undefined {
    return this.requests.get(requestId);
  }

  /** The outcome recorded for the request whose event is at `seq`. */
  requestOutcomeAt(seq: number): RequestOutcome | undefined {
    const verdict = this.verdicts.get(seq);
    if (verdict) return verdict.rejected ? { seq, rejected: verdict.rejected } : { seq };
    for (const outcome of this.requests.values()) if (outcome.seq === seq) return outcome;
    return undefined;
  }

  /** The verdict of an applied event, if still kept, without its notifications (see storedVerdict). */
  verdict(seq: number): Verdict | undefined {
    return this.verdicts.get(seq);
  }

  /** Resolve once the view has applied `seq`; reject with DeadlineExceeded after `timeoutMs`. */
  waitFor(seq: number, timeoutMs: number): Promise<void> {
    if (seq <= this.seq) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { seq, resolve: () => undefined };
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new DeadlineExceeded(`view did not reach revision ${seq} within ${timeoutMs} ms (it is at ${this.seq})`));
      }, timeoutMs);
      // A wait nobody needs any more must not keep the process alive.
      timer.unref();
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      let index = this.waiters.length;
      while (index > 0 && this.waiters[index - 1]!.seq > seq) index--;
      this.waiters.splice(index, 0, waiter);
    });
  }

  private releaseWaiters(): void {
    let count = 0;
    while (count < this.waiters.length && this.waiters[count]!.seq <= this.seq) count++;
    if (count === 0) return;
    for (const waiter of this.waiters.splice(0, count)) waiter.resolve();
  }
}
