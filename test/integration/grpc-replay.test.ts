/**
 * Replays the recorded containerd 1.6.20 session of test/data/fixtures through
 * ctrmeta's gRPC endpoint and compares each call's status and reply with the
 * recording, using the replay runner's conversion and comparison helpers.
 *
 * Calls that ctrmeta serves over gRPC go through a gRPC client. Some calls have a
 * metadata effect that ctrmeta takes only over NATS, because over gRPC they move
 * bytes or return mounts: Content/Write ending in COMMIT, Snapshots/Prepare, View
 * and Commit. They are applied through the NATS client, as a node agent would, so
 * that later calls see the same state, and are counted as "via NATS". Calls
 * without metadata (tasks, diff, reads of bytes, mounts) are skipped with the
 * runner's reason.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Body } from "../../src/api/wire.js";
import { OffsetClock } from "../../src/domain/time.js";
import { ContainerdClient } from "../../src/grpc/client.js";
import type { ServiceKey } from "../../src/grpc/protos.js";
import { startEmbeddedStack, type EmbeddedStack } from "../../src/runners/embedded.js";
import { recordingStart } from "../../src/runners/replay.js";
import { recordedKind, replayCall, skipReason, type ReplayContext } from "../../src/runners/replay-calls.js";
import { compareBodies, IdMap, summarizeDiffs } from "../../src/runners/replay-compare.js";
import { bodyFromProtoJson, newConversionNotes, readJsonLines, shortMethod, type TraceCall, type TraceEvent } from "../../src/runners/replay-convert.js";
import { MetadataError } from "../../src/domain/errors.js";
import { missingContainerdProtos } from "../../src/grpc/protos.js";

const FIXTURES = fileURLToPath(new URL("../../../test/data/fixtures", import.meta.url));

/** Metadata calls that ctrmeta takes over NATS only; replayed there to keep the state. */
const VIA_NATS = new Set(["Content/Write", "Snapshots/Prepare", "Snapshots/View", "Snapshots/Commit"]);

/** Served streams whose replies are compared as one concatenated list field. */
const CONCATENATED: Record<string, string> = { "Content/List": "info", "Snapshots/List": "info" };

/** Served methods whose reply is not compared, with the reason. */
const UNCHECKED: Record<string, string> = { "Snapshots/Usage": "ctrmeta returns zeros" };

const STREAMS = new Set(["Containers/ListStream", "Content/List", "Snapshots/List"]);

type Outcome = "matched" | "differed" | "skipped" | "via NATS";

interface GrpcCallResult {
  seq: number;
  method: string;
  service: string;
  outcome: Outcome;
  detail: string;
}

function concatField(replies: Body[], field: string): Body {
  return { [field]: replies.flatMap((reply) => (Array.isArray(reply[field]) ? reply[field] : [])) };
}

function describeFailure(error: unknown): { kind: string; message: string } {
  if (error instanceof MetadataError) return { kind: error.kind, message: error.message };
  return { kind: "Unknown", message: error instanceof Error ? error.message : String(error) };
}

/** Send one recorded call through gRPC and compare its outcome with the recording. */
async function replayOverGrpc(trace: TraceCall, client: ContainerdClient, ids: IdMap, context: ReplayContext): Promise<Omit<GrpcCallResult, "seq" | "method" | "service">> {
  const method = shortMethod(trace.method);
  const [serviceName, name] = method.split("/") as [string, string];
  const service = serviceName.toLowerCase() as ServiceKey;
  const request = ids.apply(bodyFromProtoJson(trace.requests[0], context.notes)) as Body;
  const options = {
    ...(trace.namespace === null ? {} : { namespace: trace.namespace }),
    ...(trace.lease ? { lease: ids.translate(trace.lease) } : {}),
  };

  let actual: unknown;
  let failure: { kind: string; message: string } | undefined;
  try {
    if (STREAMS.has(method)) {
      const replies = await client.collect(service, name, request, options);
      actual = CONCATENATED[method] ? concatField(replies, CONCATENATED[method]!) : replies;
    } else {
      actual = await client.unary(service, name, request, options);
    }
  } catch (error) {
    failure = describeFailure(error);
  }

  const expectedKind = recordedKind(trace.status);
  const actualKind = failure?.kind ?? "OK";
  if (expectedKind !== actualKind) {
    const recorded = trace.status.details ? ` (${trace.status.details})` : "";
    return { outcome: "differed", detail: `expected ${expectedKind}${recorded}, got ${failure ? `${failure.kind}: ${failure.message}` : "OK"}` };
  }
  if (failure) return { outcome: "matched", detail: `${failure.kind} as recorded` };

  // A lease created without an id gets one from the server: later calls name the recorded one.
  if (method === "Leases/Create" && request.id === undefined) {
    const recorded = bodyFromProtoJson(trace.responses[0]).lease as Body | undefined;
    const replied = (actual as Body).lease as Body | undefined;
    if (typeof recorded?.id === "string" && typeof replied?.id === "string") ids.learn(recorded.id, replied.id);
    return { outcome: "matched", detail: "OK; the generated id is mapped, the rest compared" };
  }
  if (UNCHECKED[method]) return { outcome: "matched", detail: `OK; reply not compared: ${UNCHECKED[method]}` };

  const responses = trace.responses.map((response) => bodyFromProtoJson(response));
  let expected: unknown;
  if (STREAMS.has(method)) expected = CONCATENATED[method] ? concatField(responses, CONCATENATED[method]!) : responses;
  else expected = responses[0] ?? {};
  const diffs = compareBodies(ids.apply(expected), actual);
  if (diffs.length > 0) return { outcome: "differed", detail: `reply differs: ${summarizeDiffs(diffs)}` };
  return { outcome: "matched", detail: "OK, reply matches" };
}

describe("replay of the recorded fixtures over gRPC", { skip: missingContainerdProtos() ?? false }, () => {
  let stack: EmbeddedStack;
  let client: ContainerdClient;
  let dir: string;
  const results: GrpcCallResult[] = [];
  const byService: Record<string, Record<Outcome, number>> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ctrmeta-grpc-replay-"));
    const calls = readJsonLines<TraceCall>(join(FIXTURES, "grpc-trace.jsonl")).sort((a, b) => a.seq - b.seq);
    const events = readJsonLines<TraceEvent>(join(FIXTURES, "events.jsonl"));
    const start = recordingStart(FIXTURES, events);
    stack = await startEmbeddedStack({ grpcAddress: join(dir, "ctrmeta.sock"), ...(start === undefined ? {} : { clock: new OffsetClock(start) }) });
    client = ContainerdClient.connect(join(dir, "ctrmeta.sock"));
    const ids = new IdMap();
    const context: ReplayContext = { client: stack.client, ids, notes: newConversionNotes(), beforeDelete: new Map(), skippedGc: [] };

    for (const trace of calls) {
      const method = shortMethod(trace.method);
      const service = method.split("/")[0]!.toLowerCase();
      let result: Omit<GrpcCallResult, "seq" | "method" | "service">;
      if (VIA_NATS.has(method)) {
        const replayed = await replayCall(trace, context);
        result = replayed.status === "skip" ? { outcome: "skipped", detail: replayed.detail } : replayed.status === "ok" ? { outcome: "via NATS", detail: replayed.detail } : { outcome: "differed", detail: `via NATS: ${replayed.detail}` };
      } else if (UNCHECKED[method] === undefined && skipReason(method) !== undefined) {
        result = { outcome: "skipped", detail: skipReason(method)! };
      } else {
        result = await replayOverGrpc(trace, client, ids, context);
      }
      results.push({ seq: trace.seq, method, service, ...result });
      byService[service] ??= { matched: 0, differed: 0, skipped: 0, "via NATS": 0 };
      byService[service]![result.outcome]++;
    }
  });

  after(async () => {
    client?.close();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("reports calls per service", (t) => {
    for (const [service, counts] of Object.entries(byService)) {
      t.diagnostic(`${service}: ${counts.matched} matched, ${counts.differed} differed, ${counts.skipped} skipped, ${counts["via NATS"]} via NATS`);
    }
    assert.deepEqual(byService, {
      namespaces: { matched: 26, differed: 0, skipped: 0, "via NATS": 0 },
      leases: { matched: 33, differed: 0, skipped: 0, "via NATS": 0 },
      content: { matched: 87, differed: 0, skipped: 78, "via NATS": 10 },
      images: { matched: 27, differed: 0, skipped: 0, "via NATS": 0 },
      snapshots: { matched: 12, differed: 0, skipped: 6, "via NATS": 14 },
      diff: { matched: 0, differed: 0, skipped: 2, "via NATS": 0 },
      containers: { matched: 30, differed: 0, skipped: 0, "via NATS": 0 },
      tasks: { matched: 0, differed: 0, skipped: 8, "via NATS": 0 },
    });
  });

  it("differs nowhere", () => {
    assert.deepEqual(results.filter((result) => result.outcome === "differed").map((result) => `#${result.seq} ${result.method}: ${result.detail}`), []);
  });

  it("matches every served call it sends", () => {
    const sent = results.filter((result) => result.outcome === "matched");
    assert.ok(sent.length > 150, `only ${sent.length} calls went through gRPC`);
  });
});
