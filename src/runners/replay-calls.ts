/**
 * Replays one recorded gRPC call through ctrmeta's client and compares its outcome
 * with the recorded one.
 *
 * Each metadata method maps to a client call, the part of the recorded reply that
 * containerd's API promises, and the same part of ctrmeta's reply. Calls that move
 * bytes or run processes are skipped with a reason.
 */
import { createHash } from "node:crypto";
import type { CallOptions, Client } from "../client/client.js";
import type { ContainerRecord, ImageRecord, LeaseResource, NamespaceRecord } from "../client/services.js";
import { kindFromGrpcCode, MetadataError } from "../domain/errors.js";
import { compareBodies, summarizeDiffs, type IdMap } from "./replay-compare.js";
import { bodyFromProtoJson, isObject, shortMethod, type Body, type ConversionNotes, type TraceCall, type TraceStatus } from "./replay-convert.js";

export type CallStatus = "ok" | "DIFF" | "skip";

export interface CallResult {
  seq: number;
  opSeq?: number;
  /** Short method name, e.g. `Containers/Create`. */
  method: string;
  /** Lower-case service name, e.g. `containers`. */
  service: string;
  status: CallStatus;
  detail: string;
  /** Probable cause of a difference the product cannot avoid yet. */
  cause?: "gc";
}

export interface ReplayContext {
  client: Client;
  ids: IdMap;
  notes: ConversionNotes;
  /** Records read just before each replayed delete, keyed by `deletedRecordKey`. */
  beforeDelete: Map<string, Body>;
  /** Seqs of synchronous deletes whose garbage collection ctrmeta did not run. */
  skippedGc: number[];
}

interface PreparedCall {
  trace: TraceCall;
  /** The first request, converted to API form. */
  body: Body;
  requests: Body[];
  options: CallOptions;
}

interface MethodPlan {
  /** Send the request; resolves to the comparable part of ctrmeta's reply. */
  run(call: PreparedCall, context: ReplayContext): Promise<unknown>;
  /** The comparable part of the recorded replies. */
  expected?(responses: Body[]): unknown;
  /** Reason the reply is not compared, for methods whose containerd reply is not metadata. */
  unchecked?: string;
  /** A reason to skip this particular call, checked before sending. */
  skip?(call: PreparedCall): string | undefined;
}

export function deletedRecordKey(kind: "containers" | "images", namespace: string, id: string, opSeq: number | undefined): string {
  return JSON.stringify([kind, namespace, id, opSeq ?? null]);
}

const SKIPPED_METHODS: Array<[RegExp, string]> = [
  [/^Content\/Read$/, "byte transfer: blob bytes stay with the node agents"],
  [/^Content\/(Status|ListStatuses|Abort)$/, "ingest bookkeeping: ctrmeta records committed blobs only"],
  [/^Diff\//, "byte transfer: layer diffs are applied by the node agents"],
  [/^Snapshots\/(Mounts|Usage|Cleanup)$/, "node-local: mounts and disk usage are not metadata"],
  [/^Tasks\//, "not metadata: the task service runs processes"],
];

function text(body: Body, field: string): string {
  const value = body[field];
  return typeof value === "string" ? value : "";
}

function object(body: Body, field: string): Body {
  const value = body[field];
  return isObject(value) ? value : {};
}

function strings(body: Body, field: string): string[] {
  const value = body[field];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function stringMap(body: Body, field: string): Record<string, string> | undefined {
  const value = body[field];
  if (!isObject(value)) return undefined;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) if (typeof item === "string") out[key] = item;
  return out;
}

/** Return the paths of a converted `updateMask: {paths}`. */
function maskPaths(body: Body): string[] {
  return strings(object(body, "updateMask"), "paths");
}

function first(field: string): (responses: Body[]) => unknown {
  return (responses) => responses[0]?.[field];
}

/** Concatenate a list field over a server stream's messages. */
function concat(field: string): (responses: Body[]) => unknown {
  return (responses) => responses.flatMap((response) => (Array.isArray(response[field]) ? response[field] : []));
}

function none(): unknown {
  return undefined;
}

/** Without `namespace`: the namespaces client sends each request in its target namespace. */
function targetOptions(call: PreparedCall): CallOptions {
  return call.options.lease === undefined ? {} : { lease: call.options.lease };
}

/** Remember whether a synchronous delete's garbage collection ran (its reply carries `gc`). */
function noteSync(call: PreparedCall, reply: Body, context: ReplayContext): void {
  if (call.body.sync === true && reply.gc === undefined) context.skippedGc.push(call.trace.seq);
}

interface CommitInput {
  digest: string;
  size: number;
  labels?: Record<string, string>;
}

/**
 * Derive the metadata effect of a Content/Write stream that ends with COMMIT. The
 * digest is the expected one, else that of the bytes sent, else the one the
 * recording replied with, because a stream that resumes an earlier ingest sends no bytes.
 */
export function commitFromWrite(requests: Body[], responses: Body[]): CommitInput | undefined {
  const commit = requests.findLast((request) => request.action === "COMMIT");
  if (!commit) return undefined;
  const expected = requests.map((request) => text(request, "expected")).filter((digest) => digest !== "").pop();
  const chunks = requests.map((request) => Buffer.from(text(request, "data"), "base64"));
  const data = Buffer.concat(chunks);
  const replied = responses.map((response) => text(response, "digest")).filter((digest) => digest !== "").pop();
  let digest = expected;
  if (digest === undefined && data.length > 0) digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
  digest ??= replied ?? "";

  const totals = requests.map((request) => (typeof request.total === "number" ? request.total : 0));
  const commitTotal = typeof commit.total === "number" ? commit.total : 0;
  const size = commitTotal > 0 ? commitTotal : Math.max(0, ...totals) || data.length;
  const labels = stringMap(commit, "labels");
  return labels === undefined ? { digest, size } : { digest, size, labels };
}

function lastCommitReply(responses: Body[]): unknown {
  const reply = responses.findLast((response) => text(response, "digest") !== "");
  return reply === undefined ? undefined : { digest: reply.digest, size: reply.offset };
}

async function captureBeforeDelete(kind: "containers" | "images", call: PreparedCall, context: ReplayContext, id: string): Promise<void> {
  try {
    const record = kind === "containers"
      ? await context.client.containers.get(id, call.options)
      : await context.client.images.get(id, call.options);
    const key = deletedRecordKey(kind, call.options.namespace ?? "", id, call.trace.op_seq);
    context.beforeDelete.set(key, record as unknown as Body);
  } catch {
    // The delete itself reports a missing record.
  }
}

const PLANS: Record<string, MethodPlan> = {
  "Containers/Create": {
    run: (c, x) => x.client.containers.create(object(c.body, "container") as unknown as ContainerRecord, c.options),
    expected: first("container"),
  },
  "Containers/Get": { run: (c, x) => x.client.containers.get(text(c.body, "id"), c.options), expected: first("container") },
  "Containers/List": { run: (c, x) => x.client.containers.list(strings(c.body, "filters"), c.options), expected: concat("containers") },
  "Containers/ListStream": {
    run: (c, x) => x.client.containers.list(strings(c.body, "filters"), c.options),
    expected: (responses) => responses.map((response) => response.container),
  },
  "Containers/Update": {
    run: (c, x) => x.client.containers.update(object(c.body, "container") as unknown as ContainerRecord, maskPaths(c.body), c.options),
    expected: first("container"),
  },
  "Containers/Delete": {
    async run(c, x) {
      await captureBeforeDelete("containers", c, x, text(c.body, "id"));
      await x.client.containers.delete(text(c.body, "id"), c.options);
    },
    expected: none,
  },

  "Images/Create": {
    run: (c, x) => x.client.images.create(object(c.body, "image") as unknown as ImageRecord, c.options),
    expected: first("image"),
  },
  "Images/Get": { run: (c, x) => x.client.images.get(text(c.body, "name"), c.options), expected: first("image") },
  "Images/List": { run: (c, x) => x.client.images.list(strings(c.body, "filters"), c.options), expected: concat("images") },
  "Images/Update": {
    run: (c, x) => x.client.images.update(object(c.body, "image") as unknown as ImageRecord, maskPaths(c.body), c.options),
    expected: first("image"),
  },
  "Images/Delete": {
    async run(c, x) {
      await captureBeforeDelete("images", c, x, text(c.body, "name"));
      noteSync(c, await x.client.images.delete(text(c.body, "name"), c.body.sync === true, c.options), x);
    },
    expected: none,
  },

  "Namespaces/Create": {
    run: (c, x) => x.client.namespaces.create(object(c.body, "namespace") as unknown as NamespaceRecord, targetOptions(c)),
    expected: first("namespace"),
  },
  "Namespaces/Get": { run: (c, x) => x.client.namespaces.get(text(c.body, "name"), targetOptions(c)), expected: first("namespace") },
  "Namespaces/List": { run: (c, x) => x.client.namespaces.list(targetOptions(c)), expected: concat("namespaces") },
  "Namespaces/Update": {
    // containerd 1.6 replies with an empty Namespace, ctrmeta with no namespace: both unset.
    run: (c, x) => x.client.namespaces.update(object(c.body, "namespace") as unknown as NamespaceRecord, maskPaths(c.body), targetOptions(c)),
    expected: first("namespace"),
  },
  "Namespaces/Delete": { run: (c, x) => x.client.namespaces.delete(text(c.body, "name"), targetOptions(c)), expected: none },

  "Content/Info": { run: (c, x) => x.client.content.info(text(c.body, "digest"), c.options), expected: first("info") },
  "Content/List": { run: (c, x) => x.client.content.list(strings(c.body, "filters"), c.options), expected: concat("info") },
  "Content/Update": {
    run(c, x) {
      const info = object(c.body, "info");
      const labels = stringMap(info, "labels");
      const request = labels === undefined ? { digest: text(info, "digest") } : { digest: text(info, "digest"), labels };
      return x.client.content.update(request, maskPaths(c.body), c.options);
    },
    expected: first("info"),
  },
  "Content/Delete": { run: (c, x) => x.client.content.delete(text(c.body, "digest"), c.options), expected: none },
  "Content/Write": {
    skip: (c) => (commitFromWrite(c.requests, []) ? undefined : "ingest bookkeeping: the stream ends without COMMIT"),
    async run(c, x) {
      const responses = c.trace.responses.map((response) => bodyFromProtoJson(response));
      const info = await x.client.content.commit(commitFromWrite(c.requests, responses)!, c.options);
      return { digest: info.digest, size: info.size };
    },
    expected: lastCommitReply,
  },

  "Snapshots/Prepare": {
    run: (c, x) => x.client.snapshots.prepare(snapshotRequest(c.body), c.options),
    unchecked: "containerd replies with mounts, which are node-local",
  },
  "Snapshots/View": {
    run: (c, x) => x.client.snapshots.view(snapshotRequest(c.body), c.options),
    unchecked: "containerd replies with mounts, which are node-local",
  },
  "Snapshots/Commit": {
    run(c, x) {
      const labels = stringMap(c.body, "labels");
      const request = { snapshotter: text(c.body, "snapshotter"), name: text(c.body, "name"), key: text(c.body, "key") };
      return x.client.snapshots.commit(labels === undefined ? request : { ...request, labels }, c.options);
    },
    unchecked: "containerd replies with an empty message",
  },
  "Snapshots/Stat": {
    run: (c, x) => x.client.snapshots.stat(text(c.body, "snapshotter"), text(c.body, "key"), c.options),
    expected: first("info"),
  },
  "Snapshots/Update": {
    run(c, x) {
      const info = object(c.body, "info");
      const labels = stringMap(info, "labels");
      const request = labels === undefined ? { name: text(info, "name") } : { name: text(info, "name"), labels };
      return x.client.snapshots.update(text(c.body, "snapshotter"), request, maskPaths(c.body), c.options);
    },
    expected: first("info"),
  },
  "Snapshots/List": {
    run: (c, x) => x.client.snapshots.list(text(c.body, "snapshotter"), strings(c.body, "filters"), c.options),
    expected: concat("info"),
  },
  "Snapshots/Remove": {
    run: (c, x) => x.client.snapshots.remove(text(c.body, "snapshotter"), text(c.body, "key"), c.options),
    expected: none,
  },

  "Leases/Create": {
    async run(c, x) {
      const labels = stringMap(c.body, "labels");
      const id = x.ids.translate(text(c.body, "id"));
      const lease = await x.client.leases.create(labels === undefined ? { id } : { id, labels }, c.options);
      // An empty id makes the server generate one; later calls name the recorded one.
      const recorded = c.trace.responses.map((response) => object(bodyFromProtoJson(response), "lease"))[0];
      if (id === "" && recorded) x.ids.learn(text(recorded, "id"), lease.id);
      return lease;
    },
    expected: first("lease"),
  },
  "Leases/Delete": {
    async run(c, x) {
      noteSync(c, await x.client.leases.delete(x.ids.translate(text(c.body, "id")), c.body.sync === true, c.options), x);
    },
    expected: none,
  },
  "Leases/List": { run: (c, x) => x.client.leases.list(strings(c.body, "filters"), c.options), expected: concat("leases") },
  "Leases/AddResource": {
    run: (c, x) => x.client.leases.addResource(x.ids.translate(text(c.body, "id")), leaseResource(c.body), c.options),
    expected: none,
  },
  "Leases/DeleteResource": {
    run: (c, x) => x.client.leases.deleteResource(x.ids.translate(text(c.body, "id")), leaseResource(c.body), c.options),
    expected: none,
  },
  "Leases/ListResources": {
    run: (c, x) => x.client.leases.listResources(x.ids.translate(text(c.body, "id")), c.options),
    expected: concat("resources"),
  },
};

function snapshotRequest(body: Body): { snapshotter: string; key: string; parent: string; labels?: Record<string, string> } {
  const labels = stringMap(body, "labels");
  const request = { snapshotter: text(body, "snapshotter"), key: text(body, "key"), parent: text(body, "parent") };
  return labels === undefined ? request : { ...request, labels };
}

function leaseResource(body: Body): LeaseResource {
  const resource = object(body, "resource");
  return { id: text(resource, "id"), type: text(resource, "type") };
}

/** Return the error kind of a recorded status, or `OK`. */
export function recordedKind(status: TraceStatus): string {
  if (status.code === 0) return "OK";
  return status.errdefs ?? kindFromGrpcCode(status.code);
}

function describeError(error: unknown): { kind: string; message: string } {
  if (error instanceof MetadataError) return { kind: error.kind, message: error.message };
  return { kind: "Unknown", message: error instanceof Error ? error.message : String(error) };
}

/** Return the reason a call is not replayed, or undefined for a metadata call. */
export function skipReason(method: string): string | undefined {
  for (const [pattern, reason] of SKIPPED_METHODS) if (pattern.test(method)) return reason;
  return PLANS[method] ? undefined : "not metadata: no ctrmeta method for it";
}

/**
 * Tell whether the missing garbage collector explains a difference: containerd's
 * synchronous GC removed content or snapshots, so a later delete succeeded there.
 * NOTE: this is a heuristic on the outcome kinds; it does not prove what GC removed.
 */
function gcExplains(method: string, expectedKind: string, actualKind: string, context: ReplayContext): boolean {
  if (context.skippedGc.length === 0 || expectedKind !== "OK" || actualKind !== "FailedPrecondition") return false;
  return method === "Namespaces/Delete" || method === "Snapshots/Remove";
}

/** Replay one recorded call and compare its outcome. */
export async function replayCall(trace: TraceCall, context: ReplayContext): Promise<CallResult> {
  const method = shortMethod(trace.method);
  const service = method.split("/")[0]!.toLowerCase();
  const result = { seq: trace.seq, method, service, ...(trace.op_seq === undefined ? {} : { opSeq: trace.op_seq }) };
  const reason = skipReason(method);
  if (reason !== undefined) return { ...result, status: "skip", detail: reason };

  const plan = PLANS[method]!;
  const requests = trace.requests.map((request) => bodyFromProtoJson(request, context.notes));
  const options: CallOptions = { namespace: trace.namespace ?? "" };
  if (trace.lease) options.lease = context.ids.translate(trace.lease);
  const call: PreparedCall = { trace, body: requests[0] ?? {}, requests, options };
  const planSkip = plan.skip?.(call);
  if (planSkip !== undefined) return { ...result, status: "skip", detail: planSkip };

  let actual: unknown;
  let failure: { kind: string; message: string } | undefined;
  try {
    actual = await plan.run(call, context);
  } catch (error) {
    failure = describeError(error);
  }

  const expectedKind = recordedKind(trace.status);
  const actualKind = failure?.kind ?? "OK";
  if (expectedKind !== actualKind) {
    const recorded = trace.status.details ? ` (${trace.status.details})` : "";
    const got = failure ? `${failure.kind}: ${failure.message}` : "OK";
    const detail = `expected ${expectedKind}${recorded}, got ${got}`;
    if (!gcExplains(method, expectedKind, actualKind, context)) return { ...result, status: "DIFF", detail };
    const requesters = context.skippedGc.map((seq) => `#${seq}`).join(", ");
    const explanation = `probable cause: containerd's synchronous GC (${requesters}) removed what ctrmeta still holds; ctrmeta ran no GC`;
    return { ...result, status: "DIFF", detail: `${detail}; ${explanation}`, cause: "gc" };
  }
  if (failure) return { ...result, status: "ok", detail: `${failure.kind} as recorded` };
  if (plan.unchecked !== undefined) return { ...result, status: "ok", detail: `OK; reply not compared: ${plan.unchecked}` };

  const responses = trace.responses.map((response) => bodyFromProtoJson(response));
  const diffs = compareBodies(context.ids.apply(plan.expected?.(responses)), actual);
  if (diffs.length > 0) return { ...result, status: "DIFF", detail: `reply differs: ${summarizeDiffs(diffs)}` };
  return { ...result, status: "ok", detail: "OK, reply matches" };
}
