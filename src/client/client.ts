/**
 * Typed client for ctrmeta's NATS API. Error replies come back as the same error
 * classes the service raised (NotFound, AlreadyExists, ...).
 *
 * Example:
 *   const client = await Client.connect({ servers: "nats://127.0.0.1:4222" });
 *   await client.containers.create({ id: "web", runtime: { name: "io.containerd.runc.v2" }, spec });
 *   const list = await client.containers.list(["labels.app==web"]);
 *   await client.close();
 */
import { randomUUID } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { headers as natsHeaders, PermissionViolationError, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/nats-core";
import { DeadlineExceeded, errorFromReply, kindFromGrpcCode, MetadataError, Unavailable } from "../domain/errors.js";
import { natsAuthConnectOptions, natsAuthFromEnv, type NatsAuthOptions } from "../nats/auth.js";
import { Layout } from "../nats/subjects.js";
import {
  AT_HEADER,
  CONTENT_TYPE_HEADER,
  ERROR_KIND_HEADER,
  JSON_TYPE,
  LEASE_HEADER,
  LIST_CHUNKS_HEADER,
  MIN_REVISION_HEADER,
  NAMESPACE_HEADER,
  REQUEST_ID_HEADER,
  REVISION_HEADER,
  WAIT_HEADER,
} from "../api/service.js";
import { EventsClient } from "./events.js";
import {
  ContainersClient,
  ContentClient,
  GcClient,
  HistoryClient,
  ImagesClient,
  LeasesClient,
  NamespacesClient,
  SnapshotsClient,
  StatusClient,
} from "./services.js";

export type Body = Record<string, unknown>;

/**
 * Connection settings of a client. `user`, `pass` and `inboxPrefix` default to
 * CTRMETA_NATS_USER, CTRMETA_NATS_PASSWORD and CTRMETA_NATS_INBOX_PREFIX.
 */
export interface ClientOptions extends NatsAuthOptions {
  servers?: string;
  prefix?: string;
  /** Default namespace of requests; `CONTAINERD_NAMESPACE` or `default` otherwise. */
  namespace?: string;
  /** Request timeout in milliseconds. */
  timeoutMs?: number;
  /** An existing connection to use instead of connecting; the client will not close it. */
  connection?: NatsConnection;
  /**
   * Read your own writes whichever instance serves the request (default true): every request
   * carries the highest revision this client has received as its minimum revision
   * (see CallOptions.minRevision). NATS spreads requests over all instances, whose
   * views may trail the one that accepted a write by a few milliseconds.
   */
  readYourWrites?: boolean;
}

export interface CallOptions {
  /** Namespace of this request; overrides the client's default. "" sends none. */
  namespace?: string;
  lease?: string;
  requestId?: string;
  timeoutMs?: number;
  /**
   * Answer only from a view that includes this revision (a `revision` from an
   * earlier reply, possibly from another instance); fails DeadlineExceeded after
   * `minRevisionWaitMs` (default 5000).
   */
  minRevision?: number;
  minRevisionWaitMs?: number;
  /** For reads: answer from the state after this log sequence, or at this RFC 3339 time. */
  at?: number | string;
}

export interface CallResult {
  body: Body;
  revision?: number;
}

export class Client {
  readonly containers = new ContainersClient(this);
  readonly images = new ImagesClient(this);
  readonly namespaces = new NamespacesClient(this);
  readonly content = new ContentClient(this);
  readonly snapshots = new SnapshotsClient(this);
  readonly leases = new LeasesClient(this);
  readonly gc = new GcClient(this);
  readonly events = new EventsClient(this);
  readonly history = new HistoryClient(this);
  readonly status = new StatusClient(this);

  /** The highest revision a reply carried, when the client reads its own writes. */
  private seenRevision = 0;

  private constructor(
    readonly nc: NatsConnection,
    readonly layout: Layout,
    readonly namespace: string,
    private readonly timeoutMs: number,
    private readonly ownsConnection: boolean,
    private readonly readYourWrites: boolean,
  ) {}

  static async connect(options: ClientOptions = {}): Promise<Client> {
    // noAsyncTraces: nats.js would otherwise build an Error with a stack for every request in advance.
    const auth = { ...natsAuthConnectOptions(natsAuthFromEnv()), ...natsAuthConnectOptions(options) };
    const nc =
      options.connection ??
      (await connect({ servers: (options.servers ?? "nats://127.0.0.1:4222").split(","), name: "ctrmeta-client", noAsyncTraces: true, ...auth }));
    const namespace = options.namespace ?? process.env.CONTAINERD_NAMESPACE ?? "default";
    return new Client(nc, new Layout(options.prefix), namespace, options.timeoutMs ?? 30_000, options.connection === undefined, options.readYourWrites ?? true);
  }

  /** Send one request and return the reply body, or throw the error it carries. */
  async call(service: string, method: string, body: Body, options: CallOptions = {}): Promise<CallResult> {
    const { subject, headers } = this.prepare(service, method, options);

    let reply: Msg;
    try {
      reply = await this.nc.request(subject, new TextEncoder().encode(JSON.stringify(body)), {
        headers,
        timeout: options.timeoutMs ?? this.timeoutMs,
      });
    } catch (error) {
      throw requestError(service, method, error);
    }
    return this.seen(decodeReply(reply));
  }

  /** Remember the revision of a reply, for the minimum revision of later requests. */
  private seen<T extends { revision?: number }>(result: T): T {
    if (this.readYourWrites && result.revision !== undefined && result.revision > this.seenRevision) this.seenRevision = result.revision;
    return result;
  }

  private prepare(service: string, method: string, options: CallOptions): { subject: string; headers: MsgHdrs } {
    const namespace = options.namespace ?? this.namespace;
    const headers = natsHeaders();
    headers.set(CONTENT_TYPE_HEADER, JSON_TYPE);
    headers.set(REQUEST_ID_HEADER, options.requestId ?? randomUUID());
    if (namespace !== "") headers.set(NAMESPACE_HEADER, namespace);
    if (options.lease) headers.set(LEASE_HEADER, options.lease);
    const minRevision = options.minRevision ?? (this.seenRevision > 0 ? this.seenRevision : undefined);
    if (minRevision !== undefined) headers.set(MIN_REVISION_HEADER, String(minRevision));
    if (options.minRevisionWaitMs !== undefined) headers.set(WAIT_HEADER, String(options.minRevisionWaitMs));
    if (options.at !== undefined) headers.set(AT_HEADER, String(options.at));
    const subject = this.layout.apiSubject(namespace === "" ? undefined : namespace, service, method);
    return { subject, headers };
  }

  /**
   * Send a list request and yield its records chunk by chunk as they arrive, so a
   * caller can print the first records before the last chunk comes in.
   */
  async *listChunks<T>(service: string, method: string, body: Body, field: string, options: CallOptions = {}): AsyncGenerator<T[]> {
    const { subject, headers } = this.prepare(service, method, options);
    headers.set(LIST_CHUNKS_HEADER, "true");
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    let replies: AsyncIterable<Msg>;
    try {
      replies = await this.nc.requestMany(subject, new TextEncoder().encode(JSON.stringify(body)), {
        strategy: "sentinel",
        maxWait: timeoutMs,
        headers,
      });
    } catch (error) {
      throw requestError(service, method, error);
    }
    let ended = false;
    try {
      for await (const reply of replies) {
        if (reply.data.length === 0 && !reply.headers?.get("Nats-Service-Error-Code")) {
          ended = true;
          break;
        }
        const { body: chunk } = this.seen(decodeReply(reply));
        yield (chunk[field] ?? []) as T[];
      }
    } catch (error) {
      if (error instanceof MetadataError) throw error;
      throw requestError(service, method, error);
    }
    if (!ended) throw new DeadlineExceeded(`${service}.${method}: the list did not end within ${timeoutMs} ms`);
  }

  /** Send a list request in chunks and collect every record. */
  async list<T>(service: string, method: string, body: Body, field: string, options: CallOptions = {}): Promise<T[]> {
    const records: T[] = [];
    for await (const chunk of this.listChunks<T>(service, method, body, field, options)) records.push(...chunk);
    return records;
  }

  async close(): Promise<void> {
    if (this.ownsConnection) await this.nc.close();
  }
}

/**
 * Classify a request that got no reply: PermissionDenied when NATS rejected the
 * request subject or the reply inbox for this user, Unavailable otherwise.
 */
function requestError(service: string, method: string, error: unknown): MetadataError {
  // nats.js rejects a request() with a RequestError caused by the violation, and a requestMany() with the violation itself.
  const violation = error instanceof PermissionViolationError ? error : (error as Error).cause;
  if (violation instanceof PermissionViolationError) {
    return new MetadataError("PermissionDenied", `${service}.${method} request rejected by NATS: ${violation.message}`, { cause: error });
  }
  return new Unavailable(`${service}.${method} request failed: ${(error as Error).message}`, { cause: error });
}

/** Turn a reply into a result, or throw the MetadataError it carries. */
export function decodeReply(reply: Msg): CallResult {
  const text = new TextDecoder().decode(reply.data);
  let body: Body = {};
  if (text !== "") {
    try {
      body = JSON.parse(text) as Body;
    } catch {
      throw new Unavailable(`reply is not JSON: ${text.slice(0, 200)}`);
    }
  }
  const code = reply.headers?.get("Nats-Service-Error-Code");
  if (code) {
    const error = (body.error ?? {}) as { kind?: string; message?: string };
    const kind = reply.headers?.get(ERROR_KIND_HEADER) || error.kind || kindFromGrpcCode(Number(code));
    throw errorFromReply(kind, error.message ?? reply.headers?.get("Nats-Service-Error") ?? "");
  }
  const revision = reply.headers?.get(REVISION_HEADER);
  return revision ? { body, revision: Number(revision) } : { body };
}

export { MetadataError };
