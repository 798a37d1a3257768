/**
 * `ctrmeta projections`: rebuild the view from the whole log in this process and
 * store it as the view snapshot that instances start from, or show that snapshot.
 */
import { Command } from "commander";
import { DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Objm, type ObjectInfo, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/nats-core";
import { Projection } from "../projections/projection.js";
import { SNAPSHOT_OBJECT, writeSnapshot } from "../projections/snapshot.js";
import { applyObjectStore, loadDefinition, type ObjectStoreDefinition } from "../nats/streams.js";
import type { Layout } from "../nats/subjects.js";
import { printJson, printWarning, withClient } from "./common.js";
import { formatDecimalSize } from "./format.js";

/** Messages requested per pull from the log, as the projector does. */
const BATCH = 1000;
/** Minimum time between two redraws of the progress bar. */
const PROGRESS_INTERVAL_MS = 100;
const BAR_WIDTH = 30;

/** Format the progress line: a bar, the percentage, and the log position out of `total`. */
export function formatProgress(done: number, total: number): string {
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * BAR_WIDTH);
  const bar = "#".repeat(filled) + "-".repeat(BAR_WIDTH - filled);
  return `replaying the log [${bar}] ${Math.floor(fraction * 100)}% ${done}/${total} events`;
}

/** Redraws one progress line on stderr, and only when stderr is a terminal. */
class ProgressBar {
  private readonly enabled = process.stderr.isTTY === true;
  private lastDraw = 0;

  constructor(private readonly total: number) {}

  update(done: number): void {
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.lastDraw < PROGRESS_INTERVAL_MS && done < this.total) return;
    this.lastDraw = now;
    process.stderr.write(`\r${formatProgress(done, this.total)}`);
  }

  /** Erase the line so that the summary starts on a clean one. */
  clear(): void {
    if (this.enabled) process.stderr.write("\r\x1b[K");
  }
}

/** Apply the log from its first event through `lastSeq` to `projection`, reporting progress. */
async function replayLog(nc: NatsConnection, layout: Layout, projection: Projection, lastSeq: number): Promise<number> {
  const consumer = await jetstream(nc).consumers.get(layout.logStream, { deliver_policy: DeliverPolicy.All });
  const messages = await consumer.consume({ max_messages: BATCH });
  const progress = new ProgressBar(lastSeq);
  let applied = 0;
  try {
    for await (const message of messages) {
      projection.apply(message.seq, message.subject, message.data);
      applied++;
      progress.update(message.seq);
      // Events appended after the start belong to the next snapshot, not this one.
      if (message.seq >= lastSeq) break;
    }
  } finally {
    progress.clear();
    await messages.close();
  }
  if (projection.seq < lastSeq) {
    throw new Error(`reading the log ${layout.logStream} stopped at sequence ${projection.seq}, before its last sequence ${lastSeq}`);
  }
  return applied;
}

function formatRate(events: number, seconds: number): string {
  return seconds > 0 ? `${Math.round(events / seconds)} events/s` : "- events/s";
}

/** Open the snapshot store without creating it: reading must not leave a store behind. */
async function openSnapshotStore(nc: NatsConnection, layout: Layout): Promise<{ store: ObjectStore; name: string }> {
  const name = loadDefinition<ObjectStoreDefinition>("projections.json", layout).name;
  try {
    return { store: await new Objm(nc).open(name), name };
  } catch (error) {
    throw new Error(`cannot open the object store ${name}: ${(error as Error).message} (has \`ctrmeta serve\` run with --prefix ${layout.prefix}?)`, {
      cause: error,
    });
  }
}

interface SnapshotSummary {
  store: string;
  object: string;
  seq: number;
  format: number;
  writtenAt: string;
  size: number;
  description: string;
  logLastSeq: number;
  eventsAfter: number;
}

function summarizeSnapshot(storeName: string, info: ObjectInfo, logLastSeq: number): SnapshotSummary {
  const seq = Number(info.metadata?.seq ?? Number.NaN);
  return {
    store: storeName,
    object: info.name,
    seq,
    format: Number(info.metadata?.format ?? Number.NaN),
    writtenAt: info.mtime,
    size: info.size,
    description: info.description ?? "",
    logLastSeq,
    eventsAfter: Number.isFinite(seq) ? Math.max(0, logLastSeq - seq) : Number.NaN,
  };
}

export function projectionsCommand(): Command {
  const command = new Command("projections").alias("projection").description("inspect and rebuild the view snapshot that instances start from");

  command
    .command("rebuild")
    .description(
      "replay the whole log into a fresh view in this process, then write it as the view snapshot; " +
        "shows a progress bar when stderr is a terminal",
    )
    .option("--dry-run", "replay and report only; keep the current snapshot")
    .action(async (options: { dryRun?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const { nc, layout } = client;
        const jsm = await jetstreamManager(nc);
        const lastSeq = (await jsm.streams.info(layout.logStream)).state.last_seq;
        if (lastSeq === 0) {
          process.stdout.write(`the log ${layout.logStream} is empty: no snapshot written\n`);
          return;
        }

        const projection = new Projection();
        const started = performance.now();
        const applied = await replayLog(nc, layout, projection, lastSeq);
        const seconds = (performance.now() - started) / 1000;
        process.stdout.write(`rebuilt the view from ${applied} events in ${seconds.toFixed(1)} s (${formatRate(applied, seconds)})\n`);
        if (projection.undecodable > 0) printWarning(`${projection.undecodable} events could not be read and were skipped as rejected`);
        if (options.dryRun) return;

        const definition = loadDefinition<ObjectStoreDefinition>("projections.json", layout);
        const store = await applyObjectStore(nc, definition);
        const header = await writeSnapshot(store, projection);
        const info = await store.info(SNAPSHOT_OBJECT);
        const size = info ? ` (${formatDecimalSize(info.size)})` : "";
        process.stdout.write(`wrote the view snapshot at log sequence ${header.seq}${size} to object store ${definition.name}\n`);
      });
    });

  command
    .command("snapshot-info")
    .description("print the log sequence, write time and size of the latest view snapshot")
    .option("--json", "print the details as JSON")
    .action(async (options: { json?: boolean }, cmd: Command) => {
      await withClient(cmd, async (client) => {
        const { nc, layout } = client;
        const { store, name } = await openSnapshotStore(nc, layout);
        const info = await store.info(SNAPSHOT_OBJECT);
        // A removed object keeps its name with `deleted` set (the view removes a snapshot the log changed under).
        if (info === null || info.deleted) throw new Error(`no view snapshot in object store ${name}: run \`ctrmeta projections rebuild\` to write one`);
        const logLastSeq = (await (await jetstreamManager(nc)).streams.info(layout.logStream)).state.last_seq;
        const summary = summarizeSnapshot(name, info, logLastSeq);
        if (options.json) {
          printJson(summary);
          return;
        }
        process.stdout.write(
          [
            `object:       ${summary.store}/${summary.object}`,
            `seq:          ${summary.seq}`,
            `format:       ${summary.format}`,
            `written at:   ${summary.writtenAt}`,
            `size:         ${formatDecimalSize(summary.size)}`,
            `log last seq: ${summary.logLastSeq} (${summary.eventsAfter} events after the snapshot)`,
          ]
            .map((line) => `${line}\n`)
            .join(""),
        );
      });
    });

  return command;
}
