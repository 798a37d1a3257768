/**
 * Replay runner: replays a recorded containerd session (a fixture folder with
 * `grpc-trace.jsonl`, `events.jsonl` and final-state files) against a fresh
 * embedded ctrmeta, then compares every call's outcome, the final state and the
 * notifications with the recording.
 *
 * Usage: npm run replay -- [--verbose] DIR
 */
import { existsSync, readFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Command, CommanderError } from "commander";
import { formatNanos, OffsetClock, parseRfc3339 } from "../domain/time.js";
import { startEmbeddedStack } from "./embedded.js";
import { replayCall, type CallResult, type ReplayContext } from "./replay-calls.js";
import { IdMap } from "./replay-compare.js";
import { newConversionNotes, readJsonLines, type TraceCall, type TraceEvent } from "./replay-convert.js";
import { findGcMade, matchEvents, NotificationCollector, prepareExpectedEvents, GC_DEPARTURE, type AppliedDeparture, type EventResult } from "./replay-events.js";
import { compareState, type StateResult } from "./replay-state.js";
import { formatReport, summarize, type ReplaySummary } from "./replay-report.js";

export interface ReplayOptions {
  /** Print one line per call, state record and event, not only differences. */
  verbose?: boolean;
  /** Receives each output line; nothing is printed without it. */
  write?: (line: string) => void;
}

export interface ReplayReport {
  calls: CallResult[];
  state: StateResult[];
  /** Empty when the folder has no `events.jsonl`. */
  events: EventResult[];
  departures: AppliedDeparture[];
  /** Facts about the conversion a reader needs, e.g. Any values sent as decoded JSON. */
  notes: string[];
  summary: ReplaySummary;
  summaryLine: string;
  /** True when any call, state record or event differed. */
  differed: boolean;
}

/** Name of the request's target in a recorded Namespaces/Delete call. */
function deletedNamespace(call: TraceCall | undefined): string | undefined {
  const request = call?.requests[0];
  if (typeof request !== "object" || request === null) return undefined;
  const name = (request as { name?: unknown }).name;
  return typeof name === "string" ? name : undefined;
}

/** Note, on each missing event, the differing calls of the step that should have made it. */
function linkMissingEvents(events: EventResult[], calls: CallResult[]): void {
  for (const event of events) {
    if (event.kind !== "missing" || event.opSeq === undefined) continue;
    const differing = calls.filter((call) => call.status === "DIFF" && call.opSeq === event.opSeq);
    if (differing.length === 0) continue;
    event.detail += `; step ${event.opSeq} had differing calls (${differing.map((call) => `#${call.seq}`).join(", ")})`;
    if (differing.some((call) => call.cause === "gc")) event.cause = "gc";
  }
}

/** The earliest event time of the recording, else the MANIFEST's capture time. */
export function recordingStart(dir: string, events: TraceEvent[] | undefined): bigint | undefined {
  const times = (events ?? []).map((event) => parseRfc3339(String(event.timestamp ?? ""))).filter((time) => time !== undefined);
  if (times.length > 0) return times.reduce((min, time) => (time < min ? time : min));
  const manifestPath = join(dir, "MANIFEST.json");
  if (!existsSync(manifestPath)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { captured_at?: unknown };
  return typeof manifest.captured_at === "string" ? parseRfc3339(manifest.captured_at) : undefined;
}

/**
 * Replay the fixture folder `dir` and compare. Differences are returned in the
 * report; only failing to read the folder or to start ctrmeta throws.
 */
export async function replayFixtures(dir: string, options: ReplayOptions = {}): Promise<ReplayReport> {
  const calls = readJsonLines<TraceCall>(join(dir, "grpc-trace.jsonl")).sort((a, b) => a.seq - b.seq);
  const eventsPath = join(dir, "events.jsonl");
  const recordedEvents = existsSync(eventsPath) ? readJsonLines<TraceEvent>(eventsPath) : undefined;
  const notes: string[] = [];

  // Start ctrmeta's clock when the recording started, so that lease expiry
  // (containerd.io/gc.expire) is judged as it was during the recording.
  const recordedStart = recordingStart(dir, recordedEvents);
  if (recordedStart !== undefined) notes.push(`ctrmeta's clock starts at ${formatNanos(recordedStart)}, the start of the recording`);
  const stack = await startEmbeddedStack(recordedStart === undefined ? {} : { clock: new OffsetClock(recordedStart) });
  try {
    const collector = new NotificationCollector(stack.client);
    await stack.client.nc.flush();

    const context: ReplayContext = { client: stack.client, ids: new IdMap(), notes: newConversionNotes(), beforeDelete: new Map(), skippedGc: [] };
    const callResults: CallResult[] = [];
    for (const call of calls) callResults.push(await replayCall(call, context));

    const byseq = new Map(calls.map((call) => [call.seq, call]));
    const gcKeptNamespaces = new Set<string>();
    for (const result of callResults) {
      if (result.cause !== "gc" || result.method !== "Namespaces/Delete") continue;
      const name = deletedNamespace(byseq.get(result.seq));
      if (name !== undefined) gcKeptNamespaces.add(name);
    }
    const state = await compareState({ dir, client: stack.client, ids: context.ids, beforeDelete: context.beforeDelete, skippedGc: context.skippedGc, gcKeptNamespaces });

    await collector.settle(stack.instance);
    await collector.stop();
    let events: EventResult[] = [];
    const departures: AppliedDeparture[] = [];
    if (recordedEvents) {
      const prepared = prepareExpectedEvents(recordedEvents);
      departures.push(...prepared.departures);
      const gcMade = await findGcMade(stack.instance, collector.received.map((event) => event.sourceSeq));
      events = matchEvents(prepared.expected, collector.received, gcMade);
      const extraGc = events.filter((event) => event.kind === "extra-gc").map((event) => event.label);
      if (extraGc.length > 0) departures.push({ description: GC_DEPARTURE, labels: extraGc });
      linkMissingEvents(events, callResults);
    } else {
      notes.push(`no events.jsonl in ${dir}: notifications not compared`);
    }

    const protobufTypes = [...context.notes.protobufAnyTypes].sort();
    if (protobufTypes.length > 0) {
      notes.push(
        `protobuf-encoded Any values were sent as their decoded JSON (the trace does not carry their bytes), and replies compare decoded forms: ${protobufTypes.join(", ")}`,
      );
    }
    if (context.ids.size > 0) notes.push(`${context.ids.size} server-generated ids were mapped to the ids ctrmeta generated`);

    const summary = summarize(callResults, state, events);
    const report: Omit<ReplayReport, "summaryLine" | "differed"> = { calls: callResults, state, events, departures, notes, summary };
    const lines = formatReport(report, options.verbose ?? false);
    for (const line of lines.body) options.write?.(line);
    return { ...report, summaryLine: lines.summary, differed: summary.calls.differed + summary.state.differed + summary.events.differed > 0 };
  } finally {
    await stack.close();
  }
}

/** Verify that a folder has what a replay needs, naming what is missing. */
function checkFolder(dir: string): string | undefined {
  if (!existsSync(dir)) return `fixture folder ${dir} does not exist`;
  if (!existsSync(join(dir, "grpc-trace.jsonl"))) return `${dir} has no grpc-trace.jsonl; give a folder in the recorded fixture format`;
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command()
    .name("replay")
    .description(
      "Replay a recorded containerd session against a fresh embedded ctrmeta and compare call outcomes, final state and notifications.\n" +
        "Output: differing calls and skipped calls grouped by reason, then the state and event sections, then a summary line.\n" +
        "Exit status: 0 when nothing differed, 1 when something differed, 2 when the replay could not run.",
    )
    .argument("<dir>", "fixture folder with grpc-trace.jsonl, events.jsonl and the final-state files")
    .option("-v, --verbose", "print one line per call, state record and event, including matches", false)
    .showHelpAfterError()
    .exitOverride();
  try {
    program.parse(argv);
  } catch (error) {
    // Commander has printed the help or the usage error already.
    return error instanceof CommanderError && error.exitCode === 0 ? 0 : 2;
  }
  const dir = program.args[0]!;
  const { verbose } = program.opts<{ verbose: boolean }>();
  const problem = checkFolder(dir);
  if (problem) {
    process.stderr.write(`replay: ${problem}\n`);
    return 2;
  }
  const report = await replayFixtures(dir, { verbose, write: (line) => process.stdout.write(`${line}\n`) });
  process.stdout.write(`${report.summaryLine}\n`);
  return report.differed ? 1 : 0;
}

const invoked = process.argv[1];
if (invoked && import.meta.url === pathToFileURL(realpathSync(invoked)).href) {
  main(process.argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`replay failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(2);
    },
  );
}
