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
import { JetStreamApiError, JetStreamError } from "@nats-io/jetstream";
import { errors as natsErrors, headers as natsHeaders, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { Svcm, type Service, type ServiceMsg } from "@nats-io/services";
import { InvalidArgument, MetadataError, quote, Unavailable, UnknownError } from "../domain/errors.js";
import { decodeToken, encodeToken, type Layout } from "../nats/subjects.js";
import { containerMethods } from "./containers.js";
import { gcMethods } from "./gc.js";
import { contentMethods } from "./content.js";
import type { MethodTable, RequestContext, ServiceDeps } from "./context.js";
import { imageMethods } from "./images.js";
import { leaseMethods } from "./leases.js";
import { namespaceMethods } from "./namespaces.js";
import { snapshotMethods } from "./snapshots.js";
import { codecFor, JSON_CODEC, type Codec } from "./codec.js";
import { limitedCommands, recordLimit } from "./limits.js";
import { checkedRetries } from "./retries.js";
import { asBody, STRING_MAX_BYTES, type Body } from "./wire.js";

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
  warn(fields: Record<string, unknown>, message: string): void;
  debug(fields: Record<string, unknown>, message: string): void;
}

/** Keep a header value on one line and of bounded size. */
function headerValue(text: string): string {
  return truncateMessage(text.replace(/[\r\n\0]/g, " "), 1024);
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
  if (!layout.isSafeReply(msg.reply)) {
    log.warn({ subject: msg.subject, reply: msg.reply }, "dropped a request whose reply subject is not an inbox");
    return;
  }
  const started = performance.now();
  // Until the headers are read, an error reply is encoded in JSON.
  let codec: Codec = JSON_CODEC;
  let outcome = "ok";
  let context: RequestContext | undefined;
  try {
    const requestHeaders = readRequestHeaders(msg);
    codec = codecFor(requestHeaders);
    const method = methods[serviceName]?.[methodName];
    if (!method) throw new InvalidArgument(`unknown method ${serviceName}.${methodName}`);
    const requestId = requestIdOf(requestHeaders);
    context = { namespace: resolveNamespace(layout, msg.subject, requestHeaders), requestId };
    const lease = leaseOf(requestHeaders);
    if (lease !== "") context.lease = lease;
    const body = asBody(codec.decode(msg.data));
    await waitForMinRevision(requestHeaders, deps);
    const limited: ServiceDeps = { ...deps, commands: checkedRetries(limitedCommands(deps.commands, recordLimit(maxPayload)), serviceName, methodName) };
    const result = await method(context, body, await depsAt(requestHeaders, limited, methodName));

    const headers = natsHeaders();
    headers.set(CONTENT_TYPE_HEADER, codec.contentType);
    if (result.revision !== undefined) headers.set(REVISION_HEADER, String(result.revision));
    if (result.list) {
      respondList(msg, requestHeaders, codec, headers, result.list, maxPayload);
    } else {
      const data = codec.encode(result.body);
      checkReplySize(data.length, maxPayload);
      msg.respond(data, { headers });
    }
  } catch (caught) {
    const error = asMetadataError(caught);
    if (!(caught instanceof MetadataError)) {
      log.error({ err: caught, method: `${serviceName}.${methodName}`, requestId: context?.requestId }, "request failed unexpectedly");
    }
    outcome = error.kind;
    replyError(msg, codec, error, log);
  } finally {
    deps.metrics?.record(`${serviceName}.${methodName}`, outcome, (performance.now() - started) / 1000);
  }
}

/** Errors of the NATS client libraries: the connection, a request or JetStream failed. */
const NATS_ERRORS = [
  natsErrors.ClosedConnectionError,
  natsErrors.ConnectionError,
  natsErrors.DrainingConnectionError,
  natsErrors.NoRespondersError,
  natsErrors.PermissionViolationError,
  natsErrors.ProtocolError,
  natsErrors.RequestError,
  natsErrors.TimeoutError,
  JetStreamError,
  JetStreamApiError,
];

/** Convert a caught error to the typed error of the reply: NATS failures become Unavailable, anything else untyped Unknown. */
export function asMetadataError(caught: unknown): MetadataError {
  if (caught instanceof MetadataError) return caught;
  const message = caught instanceof Error ? caught.message : String(caught);
  if (NATS_ERRORS.some((type) => caught instanceof type)) return new Unavailable(`NATS request failed: ${message}`, { cause: caught });
  return new UnknownError(message);
}

/**
 * Read the request's headers. nats.js parses them on first access and throws on a
 * header name with a space or a non-ASCII character, which only a client that
 * writes the protocol itself can send.
 */
function readRequestHeaders(msg: ServiceMsg): MsgHdrs | undefined {
  try {
    return msg.headers;
  } catch (error) {
    throw new InvalidArgument(`request headers cannot be parsed: ${(error as Error).message}`);
  }
}

/** Maximum size of the `Ctrmeta-Request-Id` header in bytes. The client library sends a 36-byte UUID. */
export const REQUEST_ID_MAX_BYTES = 256;

function requestIdOf(headers: MsgHdrs | undefined): string {
  const requestId = headers?.get(REQUEST_ID_HEADER) || randomUUID();
  const size = Buffer.byteLength(requestId, "utf8");
  if (size > REQUEST_ID_MAX_BYTES) {
    throw new InvalidArgument(`${REQUEST_ID_HEADER}: ${size} bytes is longer than the maximum of ${REQUEST_ID_MAX_BYTES} bytes`);
  }
  return requestId;
}

function leaseOf(headers: MsgHdrs | undefined): string {
  const lease = headers?.has(LEASE_HEADER) ? headers.get(LEASE_HEADER) : "";
  const size = Buffer.byteLength(lease, "utf8");
  if (size > STRING_MAX_BYTES) {
    throw new InvalidArgument(`${LEASE_HEADER}: ${size} bytes is longer than the maximum of ${STRING_MAX_BYTES} bytes`);
  }
  return lease;
}

/** Bytes kept free for the headers of a reply. */
const HEADER_ROOM = 4096;

/** Reject a reply body that NATS would refuse to send, before it is sent. */
function checkReplySize(size: number, maxPayload: number): void {
  if (size > maxPayload - HEADER_ROOM) {
    throw new InvalidArgument(`the reply would be ${size} bytes, above the server's max payload of ${maxPayload} bytes less ${HEADER_ROOM} for headers`);
  }
}

/** nats-server's default max payload, used when the server does not say. */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;
/** Largest chunk of a chunked list, so that a chunk and its headers always fit. */
const CHUNK_BYTES = 256 * 1024;

/**
 * Send a list: in one reply, or, when the request asked for chunks, in replies of
 * at most CHUNK_BYTES followed by an empty message carrying the chunk count (the
 * "sentinel" that ends a NATS requestMany).
 */
function respondList(
  msg: ServiceMsg,
  requestHeaders: MsgHdrs | undefined,
  codec: Codec,
  headers: MsgHdrs,
  list: { field: string; items: Body[] },
  maxPayload: number,
): void {
  if (requestHeaders?.get(LIST_CHUNKS_HEADER) === "true") {
    const chunks = codec.encodeList(list.field, list.items, Math.min(CHUNK_BYTES, maxPayload / 2));
    for (const chunk of chunks) msg.respond(chunk, { headers });
    const end = natsHeaders();
    for (const [key, values] of headers) for (const value of values) end.append(key, value);
    end.set(CHUNK_COUNT_HEADER, String(chunks.length));
    msg.respond(new Uint8Array(), { headers: end });
    return;
  }
  const [whole] = codec.encodeList(list.field, list.items, Number.POSITIVE_INFINITY);
  if (whole!.length > maxPayload - HEADER_ROOM) {
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
  const revision = decimalOf(wanted);
  if (revision === undefined) {
    throw new InvalidArgument(`${MIN_REVISION_HEADER} ${quote(wanted)}: expected a log sequence (a non-negative integer)`);
  }
  const waitText = headers?.get(WAIT_HEADER) || "5000";
  const waitMs = decimalOf(waitText);
  if (waitMs === undefined || waitMs > 60_000) {
    throw new InvalidArgument(`${WAIT_HEADER} ${quote(waitText)}: expected milliseconds from 0 to 60000`);
  }
  await deps.projection.waitFor(revision, waitMs);
}

/** Parse a non-negative integer written in decimal digits only (no sign, exponent or hex); undefined otherwise. */
function decimalOf(text: string): number | undefined {
  if (!/^[0-9]{1,16}$/.test(text)) return undefined;
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Maximum length of the error message in a reply body, in UTF-16 units. Longer messages are cut. */
const ERROR_MESSAGE_MAX_LENGTH = 16 * 1024;

/** Cut a message to `max` UTF-16 units without splitting a surrogate pair, marking the cut. */
export function truncateMessage(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = max - 3;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}...`;
}

function replyError(msg: ServiceMsg, codec: Codec, error: MetadataError, log: ApiLog): void {
  try {
    const headers = natsHeaders();
    headers.set(CONTENT_TYPE_HEADER, codec.contentType);
    headers.set(ERROR_KIND_HEADER, error.kind);
    // A message can quote a rejected value, so cut it to keep the reply far below the max payload.
    const message = truncateMessage(error.message, ERROR_MESSAGE_MAX_LENGTH);
    const body: Body = { error: { kind: error.kind, code: error.grpcCode, message } };
    msg.respondError(error.grpcCode, headerValue(error.message), codec.encode(body), { headers });
  } catch (replyFailure) {
    log.error({ err: replyFailure, kind: error.kind }, "sending an error reply failed");
  }
}
