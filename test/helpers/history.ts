/**
 * A recorded workload and the checks made on its history: clients run creates,
 * label updates, deletes and reads, each with a request id that a retry reuses;
 * afterwards the log is the ground truth every recorded outcome is checked against.
 */
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { Client } from "../../src/client/client.js";
import { decodeEnvelope, type Envelope } from "../../src/events/codec.js";

export type OpKind = "create" | "label" | "delete" | "get";

export interface OpRecord {
  client: number;
  op: OpKind;
  id: string;
  requestId: string;
  /** For label updates: the label written. */
  label?: { key: string; value: string };
  start: number;
  end: number;
  /** ok: answered with success; failed: answered with an error; unknown: never answered. */
  outcome: "ok" | "failed" | "unknown";
  kind?: string;
  attempts: number;
  revision?: number;
  /** For reads: the labels returned. */
  labels?: Record<string, string>;
}

/** A small deterministic generator, so that a failing run can be repeated. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SPEC = { typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: { ociVersion: "1.1.0" } };

/** Errors that mean "no answer": the request may or may not have been applied. */
function unanswered(error: unknown): boolean {
  const kind = (error as { kind?: string }).kind;
  return kind === "Unavailable" || kind === "DeadlineExceeded";
}

export interface WorkloadOptions {
  namespace: string;
  seed: number;
  /** Attempts per request (the same request id each time) before giving up. */
  attempts?: number;
  timeoutMs?: number;
}

/** Run one client's loop until `stop()` is true; returns its records. */
export async function runClient(client: Client, index: number, options: WorkloadOptions, stop: () => boolean): Promise<OpRecord[]> {
  const random = seededRandom(options.seed * 1000 + index);
  const records: OpRecord[] = [];
  const live: string[] = [];
  let created = 0;
  let counter = 0;
  // Reads ask for the client's last revision, so they see its own writes on any instance.
  let lastRevision = 0;
  const callOptions = { namespace: options.namespace, timeoutMs: options.timeoutMs ?? 3000 };

  while (!stop()) {
    const roll = random();
    let op: OpKind;
    if (live.length === 0 || roll < 0.35) op = "create";
    else if (roll < 0.7) op = "label";
    else if (roll < 0.8) op = "delete";
    else op = "get";

    const id = op === "create" ? `c${index}-${created++}` : live[Math.floor(random() * live.length)]!;
    const requestId = `${options.namespace}-${options.seed}-${index}-${records.length}`;
    const record: OpRecord = { client: index, op, id, requestId, start: Date.now(), end: 0, outcome: "unknown", attempts: 0 };
    if (op === "label") record.label = { key: `k${index}`, value: String(counter++) };

    for (let attempt = 1; attempt <= (options.attempts ?? 20); attempt++) {
      record.attempts = attempt;
      try {
        const reply =
          op === "create"
            ? await client.call("containers", "create", { container: { id, runtime: { name: "r" }, spec: SPEC, labels: { owner: `c${index}` } } }, { ...callOptions, requestId })
            : op === "label"
              ? await client.call("containers", "update", { container: { id, labels: { [record.label!.key]: record.label!.value } }, updateMask: [`labels.${record.label!.key}`] }, { ...callOptions, requestId })
              : op === "delete"
                ? await client.call("containers", "delete", { id }, { ...callOptions, requestId })
                : await client.call("containers", "get", { id }, { ...callOptions, requestId, minRevision: lastRevision });
        record.outcome = "ok";
        if (reply.revision !== undefined) {
          record.revision = reply.revision;
          lastRevision = Math.max(lastRevision, reply.revision);
        }
        if (op === "get") record.labels = { ...((reply.body.container as { labels?: Record<string, string> }).labels ?? {}) };
        break;
      } catch (error) {
        if (unanswered(error)) {
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * attempt)));
          continue;
        }
        record.outcome = "failed";
        record.kind = (error as { kind?: string }).kind ?? "thrown";
        break;
      }
    }
    record.end = Date.now();
    records.push(record);

    if (record.outcome !== "unknown") {
      if (op === "create" && record.outcome === "ok") live.push(id);
      if (op === "delete" && record.outcome === "ok") live.splice(live.indexOf(id), 1);
    } else if (op === "delete") {
      // It may have been deleted: do not touch it again.
      live.splice(live.indexOf(id), 1);
    }
  }
  return records;
}

export interface LogEntry {
  seq: number;
  envelope: Envelope;
}

/** Read the whole log stream. */
export async function readLog(client: Client): Promise<LogEntry[]> {
  const js = jetstream(client.nc);
  const consumer = await js.consumers.get(client.layout.logStream, { deliver_policy: DeliverPolicy.All });
  const entries: LogEntry[] = [];
  for (;;) {
    let pending = 0;
    let received = 0;
    for await (const message of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
      received++;
      pending = message.info.pending;
      entries.push({ seq: message.seq, envelope: decodeEnvelope(message.data) });
    }
    if (received === 0 || pending === 0) return entries;
  }
}

export interface HistoryReport {
  operations: number;
  acknowledged: number;
  failed: Record<string, number>;
  unknown: number;
  /** Acknowledged writes missing from the log. */
  lost: string[];
  /** Request ids with more than one event in the log. */
  appliedTwice: string[];
  /** Reads that do not match the log's state at their revision. */
  inconsistentReads: string[];
  /** Final-state disagreements with the acknowledged history. */
  invariantViolations: string[];
}

/** Check recorded operations against the log and the final container ids of a namespace. */
export function checkHistory(records: OpRecord[], log: LogEntry[], namespace: string, finalIds: Set<string>): HistoryReport {
  const report: HistoryReport = {
    operations: records.length,
    acknowledged: 0,
    failed: {},
    unknown: 0,
    lost: [],
    appliedTwice: [],
    inconsistentReads: [],
    invariantViolations: [],
  };

  const byRequest = new Map<string, LogEntry[]>();
  for (const entry of log) {
    const list = byRequest.get(entry.envelope.req) ?? [];
    list.push(entry);
    byRequest.set(entry.envelope.req, list);
  }
  for (const [requestId, entries] of byRequest) if (entries.length > 1) report.appliedTwice.push(requestId);

  for (const record of records) {
    if (record.outcome === "ok") report.acknowledged++;
    else if (record.outcome === "failed") report.failed[record.kind!] = (report.failed[record.kind!] ?? 0) + 1;
    else report.unknown++;
    if (record.outcome !== "ok" || record.op === "get") continue;
    const entries = byRequest.get(record.requestId) ?? [];
    if (!entries.some((entry) => entry.seq === record.revision)) {
      report.lost.push(`${record.op} ${record.id} (${record.requestId}) acknowledged at ${record.revision}`);
    }
  }

  // Replay the namespace's containers in log order and check each read at its revision.
  const reads = records.filter((record) => record.op === "get" && record.outcome === "ok").sort((a, b) => a.revision! - b.revision!);
  const labels = new Map<string, Record<string, string>>();
  let readIndex = 0;
  const checkReadsUpTo = (seq: number) => {
    while (readIndex < reads.length && reads[readIndex]!.revision! <= seq) {
      const read = reads[readIndex++]!;
      const expected = labels.get(read.id);
      if (JSON.stringify(sortKeys(expected)) !== JSON.stringify(sortKeys(read.labels))) {
        report.inconsistentReads.push(`${read.id} at ${read.revision}: read ${JSON.stringify(read.labels)}, log has ${JSON.stringify(expected)}`);
      }
    }
  };
  for (const entry of log) {
    checkReadsUpTo(entry.seq - 1);
    const { envelope } = entry;
    if (envelope.ns !== namespace) continue;
    const event = envelope.event;
    if (event.type === "container.created" || event.type === "container.updated") labels.set(event.container.id, { ...event.container.labels });
    if (event.type === "container.deleted") labels.delete(event.id);
  }
  checkReadsUpTo(Number.MAX_SAFE_INTEGER);

  // A read may not miss a create the same client had acknowledged before it, unless a delete was tried.
  for (const read of records) {
    if (read.op !== "get" || read.outcome !== "failed" || read.kind !== "NotFound") continue;
    const createdBefore = records.some((r) => r.client === read.client && r.op === "create" && r.id === read.id && r.outcome === "ok" && r.end <= read.start);
    const deleteBefore = records.some((r) => r.op === "delete" && r.id === read.id && r.start <= read.start);
    if (createdBefore && !deleteBefore) report.inconsistentReads.push(`${read.id}: NotFound after its create was acknowledged (${read.requestId})`);
  }

  // Final state: acknowledged creates without any delete attempt exist; acknowledged deletes are gone.
  const deleteAttempted = new Set(records.filter((record) => record.op === "delete").map((record) => record.id));
  for (const record of records) {
    if (record.outcome !== "ok") continue;
    if (record.op === "create" && !deleteAttempted.has(record.id) && !finalIds.has(record.id)) {
      report.invariantViolations.push(`created ${record.id} is missing`);
    }
    if (record.op === "delete" && finalIds.has(record.id)) report.invariantViolations.push(`deleted ${record.id} is still there`);
  }
  for (const id of finalIds) {
    if (!labels.has(id)) report.invariantViolations.push(`${id} is in the view but not in the log's state`);
  }
  for (const id of labels.keys()) {
    if (!finalIds.has(id)) report.invariantViolations.push(`${id} is in the log's state but not in the view`);
  }
  return report;
}

function sortKeys(map: Record<string, string> | undefined): Array<[string, string]> {
  return Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
