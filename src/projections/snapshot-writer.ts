/**
 * Writes a snapshot of the view after every `everyEvents` applied events, on the
 * elected instance only, one at a time. A view the log changed under (see
 * `Projection.divergences`) writes none, and can remove the snapshot in the store,
 * which may contain the same wrong state.
 */
import type { ObjectStore } from "@nats-io/obj";
import type { Projection } from "./projection.js";
import { SNAPSHOT_OBJECT, writeSnapshot, type SnapshotHeader } from "./snapshot.js";

export interface SnapshotWriterLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export class SnapshotWriter {
  private lastSeq: number;
  private writing: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  /** Header of the last snapshot this writer wrote. */
  last: SnapshotHeader | undefined;

  constructor(
    private readonly store: ObjectStore,
    private readonly projection: Projection,
    private readonly everyEvents: number,
    private readonly shouldWrite: () => boolean,
    private readonly log: SnapshotWriterLog,
  ) {
    this.lastSeq = projection.seq;
  }

  start(): void {
    if (this.everyEvents <= 0) return;
    this.unsubscribe = this.projection.onApplied((applied) => {
      if (applied.seq - this.lastSeq >= this.everyEvents && !this.writing && this.shouldWrite()) {
        this.writing = this.write().finally(() => {
          this.writing = undefined;
        });
      }
    });
  }

  /** Write one snapshot now, unless the view has diverged from the log. */
  async write(): Promise<void> {
    if (this.projection.divergences > 0) {
      // Wait another `everyEvents` before the next attempt, rather than warning on every event.
      this.lastSeq = this.projection.seq;
      this.log.warn({ divergences: this.projection.divergences }, "not writing a view snapshot: the log changed under this view");
      return;
    }
    const started = performance.now();
    try {
      const header = await writeSnapshot(this.store, this.projection);
      this.lastSeq = header.seq;
      this.last = header;
      this.log.info({ seq: header.seq, ms: Math.round(performance.now() - started) }, "view snapshot written");
    } catch (error) {
      this.log.error({ err: error }, "writing the view snapshot failed");
    }
  }

  /**
   * Remove the view snapshot from the store, so that no instance starts from it.
   * For use once the log changed under a view: a snapshot of a view that applied
   * the events the log no longer has is wrong in the same way.
   */
  async discard(): Promise<void> {
    try {
      await this.store.delete(SNAPSHOT_OBJECT);
      this.log.warn({ object: SNAPSHOT_OBJECT }, "removed the view snapshot, which may contain events the log no longer has");
    } catch (error) {
      this.log.error({ err: error, object: SNAPSHOT_OBJECT }, "removing the view snapshot failed");
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.writing;
  }
}
