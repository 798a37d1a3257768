/**
 * The NATS request/reply API, served with `@nats-io/services` so it is discoverable
 * through `$SRV.PING`, `$SRV.INFO` and `$SRV.STATS`.
 *
 * Every endpoint listens on `P.api.v1.*.<service>.<method>` in one queue group; the
 * wildcard token is the request's namespace. Every handler is wrapped so each request
 * gets exactly one reply: a body, or error headers (`Nats-Service-Error`,
 * `Nats-Service-Error-Code` with the gRPC code) plus `{error: {kind, code, message}}`.
 */
import { randomUUID } from "node:crypto";
import { headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import { InvalidArgument, MetadataError, quote, UnknownError } from "../domain/errors.js";
import { decodeToken, encodeToken, type Layout } from "../nats/subjects.js";
import { containerMethods } from "./containers.js";
import { gcMethods } from "./gc.js";
import { contentMethods } from "./content.js";
import type { MethodTable, RequestContext, ServiceDeps } from "./context.js";
import { imageMethods } from "./images.js";
import { leaseMethods } from "./leases.js";
import { namespaceMethods } from "./namespaces.js";
import { snapshotMethods } from "./snapshots.js";
import { codecFor, type Codec } from "./codec.js";
import { asBody, type Body } from "./wire.js";

export const NAMESPACE_HEADER = "containerd-namespace";
export const LEASE_HEADER = "containerd-lease";
export const REQUEST_ID_HEADER = "Ctrmeta-Request-Id";
export const REVISION_HEADER = "Ctrmeta-Revision";
/** Request header: answer only once the view has applied this log sequence. */
export const MIN_REVISION_HEADER = "Ctrmeta-Min-Revision";
/** Request header of reads: answer from the state after this log sequence, or at this RFC 3339 time. */
export const AT_HEADER = "Ctrmeta-At";
/** Methods that only read, and so can answer from the past. */
const READ_METHODS = new Set(["get", "list", "info", "stat", "listResources", "explain", "snapshotters"]);
/** Request header: how long to wait for the minimum revision, in ms (default 5000, at most 60000). */
export const WAIT_HEADER = "Ctrmeta-Wait-Ms";
export const ERROR_KIND_HEADER = "Ctrmeta-Error-Kind";
export { CONTENT_TYPE_HEADER, JSON_TYPE, MSGPACK } from "./codec.js";
import { CONTENT_TYPE_HEADER } from "./codec.js";
/** Request header: `true` asks for a list in several messages, ended by an empty one. */
export const LIST_CHUNKS_HEADER = "Ctrmeta-List-Chunks";
/** Header of the message that ends a chunked list: how many chunks came before it. */
export const CHUNK_COUNT_HEADER = "Ctrmeta-Chunks";
export const ALL_METHODS: MethodTable = {
  ...containerMethods,
  ...imageMethods,
  ...namespaceMethods,
  ...contentMethods,
  ...snapshotMethods,
  ...leaseMethods,
  ...gcMethods,
};

export interface ApiLog {
  error(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/** Keep a header value on one line and of bounded size. */
function headerValue(text: string): string {
  const line = text.replace(/[\r\n\0]/g, " ");
  return line.length > 1024 ? `${line.slice(0, 1021)}...` : line;
}

/** Resolve the request's namespace from the subject token and the optional header. */
export function resolveNamespace(layout: Layout, subject: string, headers: MsgHdrs | undefined): string {
  const token = layout.apiNamespaceToken(subject) ?? "_";
  const header = headers?.has(NAMESPACE_HEADER) ? headers.get(NAMESPACE_HEADER) : undefined;
  if (header !== undefined) {
    if (encodeToken(header) !== token) {
      throw new InvalidArgument(`namespace header ${quote(header)} does not match the namespace token ${quote(token)} of the subject`);
    }
    return header;
  }
  const decoded = decodeToken(token);
  if (decoded === undefined) {
    throw new InvalidArgument(`namespace token ${quote(token)} cannot be decoded: send the ${NAMESPACE_HEADER} header`);
  }
  return decoded;
}

export interface ApiServiceOptions {
  version: string;
  /** Queue group shared by every instance. */
  queue?: string;
}

/** Start serving every method; returns the service for `stop()`. */
export async function startApiService(
  nc: NatsConnection,
  layout: Layout,
  deps: ServiceDeps,
  log: ApiLog,
  options: ApiServiceOptions,
  methods: MethodTable = ALL_METHODS,
): Promise<ApiService> {
  const maxPayload = nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  const inFlight = new InFlight();
  const service = await new Svcm(nc).add({
    name: layout.serviceName,
    version: options.version,
    description: "containerd metadata on JetStream",
    queue: options.queue ?? layout.serviceName,
    metadata: { prefix: layout.prefix },
  });
  for (const [serviceName, serviceMethods] of Object.entries(methods)) {
    for (const methodName of Object.keys(serviceMethods)) {
      service.addEndpoint(`${serviceName}-${methodName}`, {
        subject: layout.apiEndpoint(serviceName, methodName),
        handler: (error, msg) => {
          if (error) {
            log.error({ err: error, endpoint: `${serviceName}.${methodName}` }, "endpoint subscription failed");
            return;
          }
          inFlight.add(handleRequest(layout, deps, log, methods, serviceName, methodName, msg, maxPayload));
        },
      });
    }
  }
  // Make sure the server has every subscription before callers are told we serve.
  await nc.flush();
  return {
    service,
    async stop(graceMs = 30_000) {
      // Stop taking requests (already delivered ones still reach their handler),
      // then let the requests in flight finish and reply.
      await service.stop();
      await inFlight.idle(graceMs);
    },
    get inFlight() {
      return inFlight.size;
    },
  };
}

/** The running API, stopped gracefully. */
export interface ApiService {
  service: Service;
  /** Stop taking requests and wait (at most `graceMs`) for those in flight to be answered. */
  stop(graceMs?: number): Promise<void>;
  /** Requests being handled now. */
  readonly inFlight: number;
}

/** Requests being handled, so that shutdown can wait for their replies. */
class InFlight {
  private readonly running = new Set<Promise<void>>();

  get size(): number {
    return this.running.size;
  }

  add(request: Promise<void>): void {
    this.running.add(request);
    void request.finally(() => this.running.delete(request));
  }

  async idle(graceMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.allSettled([...this.running]), grace]);
    clearTimeout(timer);
  }
}

/** Handle one request; never rejects, always replies once. */
export async function handleRequest(
  layout: Layout,
  deps: ServiceDeps,
  log: ApiLog,
  methods: MethodTable,
  serviceName: string,
  methodName: string,
  msg: ServiceMsg,
  maxPayload = DEFAULT_MAX_PAYLOAD,
): Promise<void> {
  const codec = codecFor(msg.headers);
  const started = performance.now();
  let outcome = "ok";
  let context: RequestContext | undefined;
  try {
    const method = methods[serviceName]?.[methodName];
    if (!method) throw new InvalidArgument(`unknown method ${serviceName}.${methodName}`);
    const requestId = msg.headers?.get(REQUEST_ID_HEADER) || randomUUID();
    context = { namespace: resolveNamespace(layout, msg.subject, msg.headers), requestId };
    const lease = msg.headers?.has(LEASE_HEADER) ? msg.headers.get(LEASE_HEADER) : "";
    if (lease !== "") context.lease = lease;
    const body = asBody(codec.decode(msg.data));
    await waitForMinRevision(msg.headers, deps);
    const result = await method(context, body, await depsAt(msg.headers, deps, methodName));

    const headers = natsHeaders();
    headers.set(CONTENT_TYPE_HEADER, codec.contentType);
    if (result.revision !== undefined) headers.set(REVISION_HEADER, String(result.revision));
    if (result.list) {
      respondList(msg, codec, headers, result.list, maxPayload);
    } else {
      msg.respond(codec.encode(result.body), { headers });
    }
  } catch (caught) {
    const error = caught instanceof MetadataError ? caught : new UnknownError((caught as Error)?.message ?? String(caught));
    if (!(caught instanceof MetadataError)) {
      log.error({ err: caught, method: `${serviceName}.${methodName}`, requestId: context?.requestId }, "request failed unexpectedly");
    }
    outcome = error.kind;
    replyError(msg, codec, error, log);
  } finally {
    deps.metrics?.record(`${serviceName}.${methodName}`, outcome, (performance.now() - started) / 1000);
  }
}

/** nats-server's default max payload, used when the server does not say. */
const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Largest chunk of a chunked list, so that a chunk and its headers always fit. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Send a list: in one reply, or, when the request asked for chunks, in replies of
 * at most CHUNK_BYTES followed by an empty message carrying the chunk count (the
 * "sentinel" that ends a NATS requestMany).
 */
function respondList(msg: ServiceMsg, codec: Codec, headers: MsgHdrs, list: { field: string; items: Body[] }, maxPayload: number): void {
  if (msg.headers?.get(LIST_CHUNKS_HEADER) === "true") {
    const chunks = codec.encodeList(list.field, list.items, Math.min(CHUNK_BYTES, maxPayload / 2));
    for (const chunk of chunks) msg.respond(chunk, { headers });
    const end = natsHeaders();
    for (const [key, values] of headers) for (const value of values) end.append(key, value);
    end.set(CHUNK_COUNT_HEADER, String(chunks.length));
    msg.respond(new Uint8Array(), { headers: end });
    return;
  }
  const [whole] = codec.encodeList(list.field, list.items, Number.POSITIVE_INFINITY);
  // Leave room for the headers.
  if (whole!.length > maxPayload - 4096) {
    throw new InvalidArgument(
      `the reply lists ${list.items.length} records in ${whole!.length} bytes, above the server's max payload of ${maxPayload}: ` +
        `send the header ${LIST_CHUNKS_HEADER}: true to receive them in chunks`,
    );
  }
  msg.respond(whole, { headers });
}

/** The dependencies of a request, with a view of the past when it asks for one. */
async function depsAt(headers: MsgHdrs | undefined, deps: ServiceDeps, methodName: string): Promise<ServiceDeps> {
  const at = headers?.get(AT_HEADER);
  if (!at) return deps;
  if (!READ_METHODS.has(methodName)) throw new InvalidArgument(`${AT_HEADER} applies to reads only, not to ${methodName}`);
  if (!deps.asOf) throw new InvalidArgument(`${AT_HEADER} is not available on this service`);
  const seq = await deps.asOf.resolve(at);
  return { ...deps, projection: await deps.asOf.view(seq) };
}

/** Read-your-writes across instances: wait until the view includes the asked revision. */
async function waitForMinRevision(headers: MsgHdrs | undefined, deps: ServiceDeps): Promise<void> {
  const wanted = headers?.get(MIN_REVISION_HEADER);
  if (!wanted) return;
  const revision = Number(wanted);
  if (!Number.isSafeInteger(revision) || revision < 0) {
    throw new InvalidArgument(`${MIN_REVISION_HEADER} ${quote(wanted)}: expected a log sequence (a non-negative integer)`);
  }
  const waitText = headers?.get(WAIT_HEADER) || "5000";
  const waitMs = Number(waitText);
  if (!Number.isFinite(waitMs) || waitMs < 0 || waitMs > 60_000) {
    throw new InvalidArgument(`${WAIT_HEADER} ${quote(waitText)}: expected milliseconds from 0 to 60000`);
  }
  await deps.projection.waitFor(revision, waitMs);
}

function replyError(msg: ServiceMsg, codec: Codec, error: MetadataError, log: ApiLog): void {
  try {
    const headers = natsHeaders();
    headers.set(CONTENT_TYPE_HEADER, codec.contentType);
    headers.set(ERROR_KIND_HEADER, error.kind);
    const body: Body = { error: { kind: error.kind, code: error.grpcCode, message: error.message } };
    msg.respondError(error.grpcCode, headerValue(error.message), codec.encode(body), { headers });
  } catch (replyFailure) {
    log.error({ err: replyFailure, kind: error.kind }, "sending an error reply failed");
  }
}
