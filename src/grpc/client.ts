/**
 * A small client of containerd's gRPC API that speaks in API bodies (docs/api.md),
 * for tests and tools: it works against ctrmeta's endpoint and against containerd.
 *
 * Example:
 *   const client = ContainerdClient.connect("/run/ctrmeta/ctrmeta.sock");
 *   const { image } = await client.unary("images", "Get", { name: "docker.io/library/busybox:latest" }, { namespace: "default" });
 *   client.close();
 */
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import type { Body } from "../api/wire.js";
import { errorFromReply, kindFromGrpcCode, type MetadataError } from "../domain/errors.js";
import { messageFromBody, messageToBody } from "./convert.js";
import { loadContainerdProtos, SERVICE_NAMES, type ContainerdProtos, type ServiceKey } from "./protos.js";
import { LEASE_METADATA, NAMESPACE_METADATA, socketPath } from "./server.js";

export interface GrpcCallOptions {
  namespace?: string;
  lease?: string;
  /** Cancels the call. */
  signal?: AbortSignal;
}

/** Convert a gRPC status to the MetadataError of its code, with the details as the message. */
export function errorOfStatus(error: unknown): MetadataError {
  const status = error as Partial<grpc.ServiceError>;
  const code = typeof status.code === "number" ? status.code : grpc.status.UNKNOWN;
  return errorFromReply(kindFromGrpcCode(code), status.details ?? String(error));
}

interface Method {
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  definition: grpc.MethodDefinition<unknown, unknown>;
}

export class ContainerdClient {
  private constructor(
    private readonly client: grpc.Client,
    private readonly protos: ContainerdProtos,
  ) {}

  /** Connect to a unix socket (`PATH` or `unix://PATH`); the connection is made on the first call. */
  static connect(address: string, protos: ContainerdProtos = loadContainerdProtos()): ContainerdClient {
    return new ContainerdClient(new grpc.Client(`unix://${socketPath(address)}`, grpc.credentials.createInsecure()), protos);
  }

  close(): void {
    this.client.close();
  }

  private method(service: ServiceKey, name: string): Method {
    const fullName = SERVICE_NAMES[service];
    const definition = (this.protos.definitions[fullName] as grpc.ServiceDefinition)[name];
    const reflection = this.protos.root.lookupService(fullName).methods[name];
    if (!definition || !reflection?.resolvedRequestType || !reflection.resolvedResponseType) {
      throw new Error(`${fullName} has no method ${name}`);
    }
    return { path: definition.path, requestType: reflection.resolvedRequestType, responseType: reflection.resolvedResponseType, definition };
  }

  private metadata(options: GrpcCallOptions): grpc.Metadata {
    const metadata = new grpc.Metadata();
    if (options.namespace !== undefined) metadata.set(NAMESPACE_METADATA, options.namespace);
    if (options.lease !== undefined) metadata.set(LEASE_METADATA, options.lease);
    return metadata;
  }

  /** Make a unary call; rejects with the MetadataError of the status. */
  unary(service: ServiceKey, name: string, request: Body, options: GrpcCallOptions = {}): Promise<Body> {
    const method = this.method(service, name);
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(
        method.path,
        method.definition.requestSerialize,
        method.definition.responseDeserialize,
        messageFromBody(method.requestType, request),
        this.metadata(options),
        (error, reply) => (error ? reject(errorOfStatus(error)) : resolve(messageToBody(method.responseType, (reply ?? {}) as Body))),
      );
      options.signal?.addEventListener("abort", () => call.cancel(), { once: true });
    });
  }

  /** Iterate the replies of a server-streaming call; throws the MetadataError of a failed status. */
  async *stream(service: ServiceKey, name: string, request: Body, options: GrpcCallOptions = {}): AsyncGenerator<Body> {
    const method = this.method(service, name);
    const call = this.client.makeServerStreamRequest(
      method.path,
      method.definition.requestSerialize,
      method.definition.responseDeserialize,
      messageFromBody(method.requestType, request),
      this.metadata(options),
    );
    const cancel = () => call.cancel();
    options.signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const reply of call) yield messageToBody(method.responseType, reply as Body);
    } catch (error) {
      if ((error as Partial<grpc.ServiceError>).code === grpc.status.CANCELLED && options.signal?.aborted) return;
      throw errorOfStatus(error);
    } finally {
      options.signal?.removeEventListener("abort", cancel);
      call.cancel();
    }
  }

  /** Collect every reply of a server-streaming call. */
  async collect(service: ServiceKey, name: string, request: Body, options: GrpcCallOptions = {}): Promise<Body[]> {
    const replies: Body[] = [];
    for await (const reply of this.stream(service, name, request, options)) replies.push(reply);
    return replies;
  }
}
