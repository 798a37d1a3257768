/**
 * A private containerd for the comparisons: Debian's containerd 1.6 with its own
 * root, state and unix socket in a temporary directory, the CRI and every plugin
 * that runs or mounts containers disabled, and stopped by its PID. Only its
 * metadata services (containers, images, ...) are used.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import type { Body } from "../../src/api/wire.js";
import { ContainerdClient } from "../../src/grpc/client.js";
import { messageFromBody } from "../../src/grpc/convert.js";
import { loadContainerdProtos, SERVICE_NAMES, type ContainerdProtos } from "../../src/grpc/protos.js";
import { NAMESPACE_METADATA } from "../../src/grpc/server.js";

const DISABLED_PLUGINS = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.internal.v1.opt",
  "io.containerd.internal.v1.restart",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.monitor.v1.cgroups",
  "io.containerd.runtime.v1.linux",
  "io.containerd.runtime.v2.task",
  "io.containerd.service.v1.tasks-service",
  "io.containerd.grpc.v1.tasks",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.overlayfs",
  "io.containerd.snapshotter.v1.zfs",
];

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/bin"].filter((dir) => dir !== "");
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

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
  private child: ChildProcess | undefined;
  private stderr = "";
  readonly dir = mkdtempSync(join(tmpdir(), "ctrmeta-bench-containerd-"));
  readonly protos: ContainerdProtos = loadContainerdProtos();

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get socket(): string {
    return join(this.dir, "containerd.sock");
  }

  /** A new lean containers client (its own HTTP/2 connection) for requests in `namespace`. */
  containers(namespace: string): LeanContainersClient {
    return new LeanContainersClient(this.socket, this.protos, namespace);
  }

  /** A new gRPC client (its own HTTP/2 connection) to this containerd. */
  client(): ContainerdClient {
    return ContainerdClient.connect(this.socket, this.protos);
  }

  static async start(): Promise<PrivateContainerd> {
    const containerd = new PrivateContainerd();
    try {
      await containerd.run();
    } catch (error) {
      await containerd.stop();
      throw error;
    }
    return containerd;
  }

  private async run(): Promise<void> {
    const binary = findExecutable("containerd");
    if (!binary) throw new Error("containerd is not on PATH");
    const config = [
      "version = 2",
      `root = ${JSON.stringify(join(this.dir, "root"))}`,
      `state = ${JSON.stringify(join(this.dir, "state"))}`,
      `disabled_plugins = ${JSON.stringify(DISABLED_PLUGINS)}`,
      "[grpc]",
      `  address = ${JSON.stringify(this.socket)}`,
      "[ttrpc]",
      `  address = ${JSON.stringify(`${this.socket}.ttrpc`)}`,
      "[debug]",
      '  address = ""',
      "[metrics]",
      '  address = ""',
    ].join("\n");
    writeFileSync(join(this.dir, "config.toml"), `${config}\n`);
    const child = spawn(binary, ["--config", join(this.dir, "config.toml")], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr!.on("data", (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString("utf8")).slice(-8000);
    });
    this.child = child;

    const deadline = Date.now() + 20_000;
    for (;;) {
      const client = this.client();
      try {
        await client.unary("version", "Version", {});
        return;
      } catch (error) {
        if (Date.now() > deadline || child.exitCode !== null) {
          throw new Error(`containerd did not start: ${(error as Error).message}\n${this.stderr}`);
        }
      } finally {
        client.close();
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Stop containerd by PID (SIGTERM, SIGKILL after 10 s) and remove its directory. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
