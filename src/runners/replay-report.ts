/** Counting and printing the results of a replay. */
import type { CallResult } from "./replay-calls.js";
import type { AppliedDeparture, EventResult } from "./replay-events.js";
import type { StateResult } from "./replay-state.js";

export interface CallCounts {
  matched: number;
  differed: number;
  skipped: number;
}

export interface ReplaySummary {
  calls: CallCounts & { differedByGc: number };
  /** Call counts per lower-case service name, e.g. `containers`. */
  callsByService: Record<string, CallCounts>;
  state: { matched: number; differed: number; differedByGc: number };
  events: { matched: number; differed: number; differedByGc: number; extraFromGc: number };
}

interface ReportParts {
  calls: CallResult[];
  state: StateResult[];
  events: EventResult[];
  departures: AppliedDeparture[];
  notes: string[];
  summary: ReplaySummary;
}

export function summarize(calls: CallResult[], state: StateResult[], events: EventResult[]): ReplaySummary {
  const byService: Record<string, CallCounts> = {};
  for (const call of calls) {
    const counts = (byService[call.service] ??= { matched: 0, differed: 0, skipped: 0 });
    if (call.status === "ok") counts.matched++;
    else if (call.status === "DIFF") counts.differed++;
    else counts.skipped++;
  }
  const differing = <T extends { status: string; cause?: string }>(items: T[]) => items.filter((item) => item.status === "DIFF");
  return {
    calls: {
      matched: calls.filter((call) => call.status === "ok").length,
      differed: differing(calls).length,
      skipped: calls.filter((call) => call.status === "skip").length,
      differedByGc: differing(calls).filter((call) => call.cause === "gc").length,
    },
    callsByService: byService,
    state: {
      matched: state.filter((item) => item.status === "ok").length,
      differed: differing(state).length,
      differedByGc: differing(state).filter((item) => item.cause === "gc").length,
    },
    events: {
      matched: events.filter((event) => event.kind === "matched").length,
      differed: differing(events).length,
      differedByGc: differing(events).filter((event) => event.cause === "gc").length,
      extraFromGc: events.filter((event) => event.kind === "extra-gc").length,
    },
  };
}

function byGc(count: number): string {
  return count > 0 ? ` (${count} probably GC)` : "";
}

export function summaryLine(summary: ReplaySummary): string {
  const { calls, state, events } = summary;
  const extra = events.extraFromGc > 0 ? `, ${events.extraFromGc} extra from GC allowed` : "";
  return (
    `calls: ${calls.matched} matched, ${calls.differed} differed${byGc(calls.differedByGc)}, ${calls.skipped} skipped; ` +
    `state: ${state.matched} matched, ${state.differed} differed${byGc(state.differedByGc)}; ` +
    `events: ${events.matched} matched, ${events.differed} differed${byGc(events.differedByGc)}${extra}`
  );
}

/** Seq labels of a group, shortened to the first few. */
function seqList(seqs: number[], limit = 6): string {
  const listed = seqs.slice(0, limit).map((seq) => `#${seq}`).join(", ");
  return seqs.length > limit ? `${listed}, ... ${seqs.length - limit} more` : listed;
}

/** Group skipped calls by reason, one line each with the methods, their counts and seqs. */
function skipGroups(calls: CallResult[]): string[] {
  const groups = new Map<string, CallResult[]>();
  for (const call of calls) {
    if (call.status !== "skip") continue;
    const group = groups.get(call.detail) ?? [];
    group.push(call);
    groups.set(call.detail, group);
  }
  const lines: string[] = [];
  for (const [reason, group] of groups) {
    const methods = new Map<string, number>();
    for (const call of group) methods.set(call.method, (methods.get(call.method) ?? 0) + 1);
    const counted = [...methods].map(([method, count]) => `${method} x${count}`).join(", ");
    lines.push(`skip  ${counted} (${seqList(group.map((call) => call.seq))}): ${reason}`);
  }
  return lines;
}

const pad = (status: string) => status.padEnd(4);

/** Format the report as body lines (calls, state, events) and the summary line. */
export function formatReport(report: ReportParts, verbose: boolean): { body: string[]; summary: string } {
  const body: string[] = ["== calls"];
  for (const call of report.calls) {
    if (!verbose && call.status !== "DIFF") continue;
    body.push(`${pad(call.status)}  #${call.seq} ${call.method}: ${call.detail}`);
  }
  if (!verbose) body.push(...skipGroups(report.calls));
  const services = Object.entries(report.summary.callsByService)
    .map(([service, counts]) => `${service} ${counts.matched} matched/${counts.differed} differed/${counts.skipped} skipped`)
    .join("; ");
  body.push(`by service: ${services}`);
  for (const note of report.notes) body.push(`note: ${note}`);

  body.push("== state");
  for (const item of report.state) {
    if (!verbose && item.status !== "DIFF") continue;
    body.push(`${pad(item.status)}  ${item.kind} ${item.label}: ${item.detail}`);
  }

  body.push("== events");
  for (const departure of report.departures) {
    body.push(`departure applied: ${departure.description}; to ${departure.labels.length}: ${departure.labels.join(", ")}`);
  }
  for (const event of report.events) {
    if (!verbose && event.status !== "DIFF") continue;
    body.push(`${pad(event.status)}  ${event.label} ${event.topic}: ${event.detail}`);
  }
  return { body, summary: summaryLine(report.summary) };
}
