/**
 * containerd's gRPC API on a unix socket, backed by the same API methods as the
 * NATS API (src/api). Each call gets a request context from its gRPC metadata
 * (`containerd-namespace`, `containerd-lease`, the first value of each, as
 * containerd reads them), its request is converted to an API body, and the
 * method's reply or error is converted back. Methods ctrmeta does not serve answer
 * UNIMPLEMENTED with the reason; docs/compat.md lists them.
 */
import { randomUUID } from "node:crypto";
import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { connect as connectSocket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import type { RequestContext, ServiceDeps } from "../api/context.js";
import type { Body } from "../api/wire.js";
import { MetadataError, NotImplemented, UnknownError } from "../domain/errors.js";
import { messageFromBody, messageToBody } from "./convert.js";
import { loadContainerdProtos, SERVICE_NAMES, type ContainerdProtos, type ServiceKey } from "./protos.js";

export const NAMESPACE_METADATA = "containerd-namespace";
export const LEASE_METADATA = "containerd-lease";

/** Sends one reply message of a server stream. */
export type Send = (body: Body) => void;

/** How ctrmeta answers one gRPC method. */
export type GrpcMethod =
  | { kind: "unary"; run(context: RequestContext, request: Body): Promise<Body> | Body }
  | { kind: "stream"; run(context: RequestContext, request: Body, send: Send, call: StreamCall): Promise<void> }
  | { kind: "unimplemented"; reason: string };

/** What a streaming method may watch: the call ends when the client cancels or the server stops. */
export interface StreamCall {
  readonly signal: AbortSignal;
}

/** service → gRPC method name (as in the .proto) → implementation. */
export type GrpcServices = Partial<Record<ServiceKey, Record<string, GrpcMethod>>>;

export interface GrpcLog {
  info(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/**
 * Which namespace a request is for. The namespaces service names its target in the
 * body, and gRPC callers need no permission on it, so its calls run in the target's
 * namespace; every other call in the metadata's.
 */
export type NamespaceOf = (service: ServiceKey, method: string, request: Body, metadataNamespace: string) => string;

/** Parse `unix://PATH` or a bare PATH; other schemes are not served. */
export function socketPath(address: string): string {
  const path = address.startsWith("unix://") ? address.slice("unix://".length) : address;
  if (path === "" || /^[a-z][a-z0-9+.-]*:\/\//i.test(path)) {
    throw new Error(`gRPC address ${JSON.stringify(address)}: expected a unix socket path or unix://PATH`);
  }
  return path;
}

/** Tell whether a server accepts connections on the socket. */
function socketInUse(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connectSocket(path);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Remove a socket file that no server listens on; refuse to remove anything else. */
async function removeStaleSocket(path: string): Promise<void> {
  let stats;
  try {
    stats = lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (!stats.isSocket()) throw new Error(`gRPC address ${path} exists and is not a socket: remove it or choose another path`);
  if (await socketInUse(path)) throw new Error(`gRPC address ${path}: another server is listening on it`);
  unlinkSync(path);
}

function firstValue(metadata: grpc.Metadata, key: string): string {
  const [value] = metadata.get(key);
  if (value === undefined) return "";
  return typeof value === "string" ? value : value.toString("utf8");
}

/** The typed error of a failed call: an error without a kind is Unknown, as in containerd's errdefs. */
function asMetadataError(caught: unknown): MetadataError {
  if (caught instanceof MetadataError) return caught;
  return new UnknownError(caught instanceof Error ? caught.message : String(caught));
}

/** A gRPC status for an error, with containerd's code for its kind and the message as details. */
export function statusOf(error: MetadataError): Partial<grpc.StatusObject> {
  return { code: error.grpcCode, details: error.message, metadata: new grpc.Metadata() };
}

interface Bound {
  service: ServiceKey;
  name: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
}

export interface GrpcServerOptions {
  address: string;
  services: GrpcServices;
  namespaceOf: NamespaceOf;
  deps: Pick<ServiceDeps, "metrics">;
  log: GrpcLog;
  protos?: ContainerdProtos;
}

/** The running gRPC endpoint. */
export class GrpcServer {
  private readonly streams = new Set<AbortController>();

  private constructor(
    private readonly server: grpc.Server,
    readonly path: string,
    private readonly log: GrpcLog,
  ) {}

  /** Bind the socket (mode 0600) and serve; throws when the socket cannot be bound. */
  static async start(options: GrpcServerOptions): Promise<GrpcServer> {
    const path = socketPath(options.address);
    const protos = options.protos ?? loadContainerdProtos();
    await removeStaleSocket(path);
    const server = new grpc.Server();
    const instance = new GrpcServer(server, path, options.log);
    for (const service of Object.keys(SERVICE_NAMES) as ServiceKey[]) {
      const fullName = SERVICE_NAMES[service];
      const definition = protos.definitions[fullName] as grpc.ServiceDefinition;
      const reflection = protos.root.lookupService(fullName);
      const implementation: grpc.UntypedServiceImplementation = {};
      for (const name of Object.keys(definition)) {
        const method = reflection.methods[name];
        if (!method?.resolvedRequestType || !method.resolvedResponseType) continue;
        const bound = { service, name, requestType: method.resolvedRequestType, responseType: method.resolvedResponseType };
        const served = options.services[service]?.[name] ?? { kind: "unimplemented", reason: "ctrmeta does not serve this method" };
        implementation[name] = instance.handler(bound, definition[name]!, served, options);
      }
      server.addService(definition, implementation);
    }
    // Create the socket without group or other permissions from the start.
    const umask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.bindAsync(`unix://${path}`, grpc.ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve()));
      });
    } finally {
      process.umask(umask);
    }
    chmodSync(path, 0o600);
    options.log.info({ address: `unix://${path}` }, "serving containerd's gRPC API");
    return instance;
  }

  /**
   * Stop: end the event subscriptions, let calls in flight finish for at most
   * `graceMs`, then close every connection.
   */
  async stop(graceMs = 5_000): Promise<void> {
    for (const stream of this.streams) stream.abort();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.server.tryShutdown(() => resolve())),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      }),
    ]);
    clearTimeout(timer);
    this.server.forceShutdown();
    try {
      unlinkSync(this.path);
    } catch {
      // grpc-js removes the socket itself on shutdown.
    }
  }

  private handler(bound: Bound, definition: grpc.MethodDefinition<unknown, unknown>, served: GrpcMethod, options: GrpcServerOptions): grpc.UntypedHandleCall {
    const label = `grpc:${SERVICE_NAMES[bound.service].split(".").pop()}/${bound.name}`;
    const record = (outcome: string, started: number) => options.deps.metrics?.record(label, outcome, (performance.now() - started) / 1000);
    const prepare = (metadata: grpc.Metadata, request: unknown): { context: RequestContext; body: Body } => {
      const body = messageToBody(bound.requestType, (request ?? {}) as Body);
      const namespace = options.namespaceOf(bound.service, bound.name, body, firstValue(metadata, NAMESPACE_METADATA));
      const context: RequestContext = { namespace, requestId: randomUUID() };
      const lease = firstValue(metadata, LEASE_METADATA);
      if (lease !== "") context.lease = lease;
      return { context, body };
    };
    const fail = (caught: unknown, started: number): Partial<grpc.StatusObject> => {
      const error = asMetadataError(caught);
      if (!(caught instanceof MetadataError)) this.log.error({ err: caught, method: label }, "gRPC request failed unexpectedly");
      record(error.kind, started);
      return statusOf(error);
    };
    const unimplemented = served.kind === "unimplemented" ? new NotImplemented(`${SERVICE_NAMES[bound.service]}/${bound.name}: ${served.reason}`) : undefined;

    if (definition.requestStream) {
      // Client and bidirectional streams (content Write) are never served.
      const error = unimplemented ?? new NotImplemented(`${bound.name}: streaming requests are not served`);
      if (definition.responseStream) {
        return (call: grpc.ServerDuplexStream<unknown, unknown>) => call.emit("error", fail(error, performance.now()));
      }
      return (_call: grpc.ServerReadableStream<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(fail(error, performance.now()));
    }

    if (definition.responseStream) {
      return (call: grpc.ServerWritableStream<unknown, unknown>) => {
        const started = performance.now();
        void (async () => {
          const abort = new AbortController();
          this.streams.add(abort);
          call.once("cancelled", () => abort.abort());
          try {
            if (unimplemented) throw unimplemented;
            if (served.kind !== "stream") throw new NotImplemented(`${bound.name}: not served as a stream`);
            const { context, body } = prepare(call.metadata, call.request);
            const send: Send = (reply) => void call.write(messageFromBody(bound.responseType, reply));
            await served.run(context, body, send, { signal: abort.signal });
            record("ok", started);
            call.end();
          } catch (caught) {
            call.emit("error", fail(caught, started));
          } finally {
            this.streams.delete(abort);
          }
        })();
      };
    }

    return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = performance.now();
      void (async () => {
        try {
          if (unimplemented) throw unimplemented;
          if (served.kind !== "unary") throw new NotImplemented(`${bound.name}: not served as a unary call`);
          const { context, body } = prepare(call.metadata, call.request);
          const reply = await served.run(context, body);
          record("ok", started);
          callback(null, messageFromBody(bound.responseType, reply));
        } catch (caught) {
          callback(fail(caught, started));
        }
      })();
    };
  }
}
