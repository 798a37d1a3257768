/**
 * The systems of one comparison, started together: a private nats-server on a free
 * port, a ctrmeta instance and the raw reference services in child processes, a
 * private containerd when it is installed, and the clients that load them.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { Client, type ClientOptions } from "../../src/client/client.js";
import { startTestServer, type TestServer } from "../../test/helpers/nats.js";
import { CpuMeter } from "./cpu.js";
import { containerdUnavailable, PrivateContainerd, type LeanContainersClient } from "./containerd.js";
import type { ContainerBody } from "./fixture.js";
import { Host, type WorkerInstanceOptions } from "./host.js";
import { createRawStream, rawCommand } from "./raw.js";

export const NAMESPACE = "bench";
/** Connections (and gRPC channels) the concurrent load is spread over. */
export const CONNECTIONS = 8;

export interface RigOptions {
  containerd?: boolean;
  instance?: WorkerInstanceOptions;
  /** Reply of the raw echo; a small JSON object when not given. */
  echoReply?: Uint8Array;
}

export class Rig {
  private constructor(
    readonly nats: TestServer,
    readonly ctrmeta: Host,
    readonly raw: Host,
    readonly clients: Client[],
    readonly containerd: PrivateContainerd | undefined,
    readonly grpcClients: LeanContainersClient[],
    /** Reason containerd is not compared, or undefined when it is. */
    readonly containerdSkipped: string | undefined,
  ) {}

  static async start(options: RigOptions = {}): Promise<Rig> {
    const nats = await startTestServer();
    const hosts: Host[] = [];
    let containerd: PrivateContainerd | undefined;
    try {
      const nc = (await Client.connect({ servers: nats.url })).nc;
      await createRawStream(await jetstreamManager(nc));
      await nc.close();
      hosts.push(await Host.instance(nats.url, { ...(options.instance ?? {}), ...instanceOverrides() }));
      hosts.push(await Host.raw(nats.url, options.echoReply ?? new TextEncoder().encode('{"ok":true}')));
      const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => Client.connect({ servers: nats.url, namespace: NAMESPACE, ...clientOverrides() })));
      let skipped = options.containerd === false ? "not requested" : containerdUnavailable();
      if (skipped === undefined) {
        try {
          containerd = await PrivateContainerd.start();
        } catch (error) {
          skipped = `containerd did not start: ${(error as Error).message}`;
        }
      }
      const grpcClients = containerd ? Array.from({ length: CONNECTIONS }, () => containerd!.containers(NAMESPACE)) : [];
      return new Rig(nats, hosts[0]!, hosts[1]!, clients, containerd, grpcClients, skipped);
    } catch (error) {
      for (const host of hosts) await host.stop();
      await containerd?.stop();
      await nats.close();
      throw error;
    }
  }

  /** Start a meter of the CPU time of every process in the comparison. */
  cpu(): CpuMeter {
    return new CpuMeter({ bench: process.pid, ctrmeta: this.ctrmeta.pid, raw: this.raw.pid, nats: this.nats.server.pid, containerd: this.containerd?.pid });
  }

  /** Return the NATS connection of load slot `index`. */
  nc(index: number): NatsConnection {
    return this.clients[index % this.clients.length]!.nc;
  }

  client(index: number): Client {
    return this.clients[index % this.clients.length]!;
  }

  ctrmetaCreate(index: number, body: ContainerBody): Promise<unknown> {
    return this.client(index).containers.create({ ...body });
  }

  rawCreate(index: number, body: ContainerBody): Promise<void> {
    return rawCommand(this.nc(index), body.id, { container: body });
  }

  containerdCreate(index: number, body: ContainerBody): Promise<unknown> {
    return this.grpcClients[index % this.grpcClients.length]!.create({ ...body });
  }

  async stop(): Promise<void> {
    for (const client of this.grpcClients) client.close();
    for (const client of this.clients) await client.close().catch(() => undefined);
    await this.ctrmeta.stop();
    await this.raw.stop();
    await this.containerd?.stop();
    await this.nats.close();
  }
}

/**
 * Instance options from the environment variable BENCH_INSTANCE, a JSON object
 * such as `{"gc":false}`, to measure what one part of the instance costs.
 */
export function instanceOverrides(): WorkerInstanceOptions {
  return optionsFromEnvironment("BENCH_INSTANCE") as WorkerInstanceOptions;
}

/** Client options from BENCH_CLIENT, a JSON object such as `{"readYourWrites":false}`. */
export function clientOverrides(): Partial<ClientOptions> {
  return optionsFromEnvironment("BENCH_CLIENT") as Partial<ClientOptions>;
}

function optionsFromEnvironment(variable: string): Record<string, unknown> {
  const text = process.env[variable];
  if (!text) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${variable} is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error(`${variable} must be a JSON object, got ${text}`);
  return parsed as Record<string, unknown>;
}
