/**
 * The containerd of the comparisons: test/helpers/containerd.ts's private
 * containerd in a temporary directory, of which only the metadata services
 * (containers, images, ...) are used, and lean gRPC clients for the load.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import type { Body } from "../../src/api/wire.js";
import { ContainerdClient } from "../../src/grpc/client.js";
import { messageFromBody } from "../../src/grpc/convert.js";
import { loadContainerdProtos, SERVICE_NAMES, type ContainerdProtos } from "../../src/grpc/protos.js";
import { NAMESPACE_METADATA } from "../../src/grpc/server.js";
import { ContainerdProcess, findExecutable } from "../../test/helpers/containerd.js";

/**
 * Why containerd comparisons cannot run here, or undefined when they can: the
 * binary and the `.proto` files must both be installed.
 */
export function containerdUnavailable(): string | undefined {
  if (!findExecutable("containerd")) return "containerd is not on PATH (install Debian's containerd package)";
  try {
    loadContainerdProtos();
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
}

/**
 * A gRPC client that costs the load generator as little as it can: it encodes each
 * request with protobufjs and decodes each reply, without the conversions between
 * API bodies and message objects that ContainerdClient makes for its callers.
 */
export class LeanContainersClient {
  private readonly client: grpc.Client;
  private readonly metadata = new grpc.Metadata();
  private readonly identity = (bytes: Buffer) => bytes;

  constructor(
    socket: string,
    private readonly protos: ContainerdProtos,
    namespace: string,
  ) {
    this.client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
    this.metadata.set(NAMESPACE_METADATA, namespace);
  }

  private type(name: string): protobuf.Type {
    return this.protos.root.lookupType(`containerd.services.containers.v1.${name}`);
  }

  /** Call `method` with a request given as an API body; resolves with the decoded reply message. */
  call(method: "Create" | "Get", requestType: string, responseType: string, body: Body): Promise<unknown> {
    const request = this.type(requestType);
    const response = this.type(responseType);
    const bytes = Buffer.from(request.encode(request.fromObject(messageFromBody(request, body))).finish());
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(`/${SERVICE_NAMES.containers}/${method}`, this.identity, this.identity, bytes, this.metadata, (error, reply) => {
        if (error) reject(error);
        else resolve(response.decode(reply!));
      });
    });
  }

  create(body: Body): Promise<unknown> {
    return this.call("Create", "CreateContainerRequest", "CreateContainerResponse", { container: body });
  }

  get(id: string): Promise<unknown> {
    return this.call("Get", "GetContainerRequest", "GetContainerResponse", { id });
  }

  /** Collect a ListStream of the containers that match `filters`, each message decoded. */
  listStream(filters: string[]): Promise<unknown[]> {
    const request = this.type("ListContainersRequest");
    const response = this.type("ListContainerMessage");
    const bytes = Buffer.from(request.encode(request.fromObject({ filters })).finish());
    const call = this.client.makeServerStreamRequest(`/${SERVICE_NAMES.containers}/ListStream`, this.identity, this.identity, bytes, this.metadata);
    const messages: unknown[] = [];
    return new Promise((resolve, reject) => {
      call.on("data", (reply: Buffer) => messages.push(response.decode(reply)));
      call.on("error", reject);
      call.on("end", () => resolve(messages));
    });
  }

  close(): void {
    this.client.close();
  }
}

export class PrivateContainerd {
  private readonly process = new ContainerdProcess(mkdtempSync(join(tmpdir(), "ctrmeta-bench-containerd-")));
  readonly protos: ContainerdProtos = loadContainerdProtos();

  get pid(): number | undefined {
    return this.process.pid;
  }

  get socket(): string {
    return this.process.socket;
  }

  /** Open a lean containers client (its own HTTP/2 connection) for requests in `namespace`. */
  containers(namespace: string): LeanContainersClient {
    return new LeanContainersClient(this.socket, this.protos, namespace);
  }

  /** Open a gRPC client (its own HTTP/2 connection) to this containerd. */
  client(): ContainerdClient {
    return ContainerdClient.connect(this.socket, this.protos);
  }

  static async start(): Promise<PrivateContainerd> {
    const containerd = new PrivateContainerd();
    try {
      await containerd.process.start(async () => {
        const client = containerd.client();
        try {
          await client.unary("version", "Version", {});
        } finally {
          client.close();
        }
      });
    } catch (error) {
      await containerd.stop();
      throw error;
    }
    return containerd;
  }

  /** Stop containerd by PID and remove its directory. */
  async stop(): Promise<void> {
    await this.process.stop();
    rmSync(this.process.dir, { recursive: true, force: true });
  }
}
