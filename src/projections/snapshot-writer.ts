/**
 * Writes a snapshot of the view after every `everyEvents` applied events, on the
 * elected instance only, one at a time.
 */
import type { ObjectStore } from "@nats-io/obj";
import type { Projection } from "./projection.js";
import { writeSnapshot, type SnapshotHeader } from "./snapshot.js";

export interface SnapshotWriterLog {
  info(fields: Record<string, unknown>, message: string): void;
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

  /** Write one snapshot now; resolves with its header. */
  async write(): Promise<void> {
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

  async stop(): Promise<void> {
    this.unsubscribe?.();
    await this.writing;
  }
}
