/**
 * Test fixtures: a private nats-server on a free 127.0.0.1 port with its own store
 * directory, and a ctrmeta instance on it. Everything is stopped by `close()`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { Client } from "../../src/client/client.js";
import { freePort, startNatsServer, type EmbeddedServer } from "../../src/nats/server.js";
import { Instance, type InstanceOptions } from "../../src/service.js";

export interface TestServer {
  server: EmbeddedServer;
  dataDir: string;
  url: string;
  close(): Promise<void>;
}

/** Start nats-server, retrying on a port taken between probe and bind. */
export async function startTestServer(dataDir?: string): Promise<TestServer> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "ctrmeta-test-"));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      const server = await startNatsServer({ port, dataDir: dir });
      return {
        server,
        dataDir: dir,
        url: server.url,
        async close() {
          await server.stop();
          if (!dataDir) rmSync(dir, { recursive: true, force: true });
        },
      };
    } catch (error) {
      if (attempt >= 5 || !/already in use/.test((error as Error).message)) throw error;
    }
  }
}

export const quietLogger = pino({ level: process.env.CTRMETA_TEST_LOG ?? "silent" });

export async function startInstance(url: string, options: Partial<InstanceOptions> = {}): Promise<Instance> {
  return Instance.start({ servers: url, logger: quietLogger, ...options });
}

export interface Stack {
  nats: TestServer;
  instance: Instance;
  client: Client;
  close(): Promise<void>;
}

/** A server, one instance and a client in namespace `default`. */
export async function startStack(options: Partial<InstanceOptions> = {}): Promise<Stack> {
  const nats = await startTestServer();
  try {
    const instance = await startInstance(nats.url, options);
    const client = await Client.connect({ servers: nats.url, prefix: options.prefix });
    return {
      nats,
      instance,
      client,
      async close() {
        await client.close();
        await instance.close();
        await nats.close();
      },
    };
  } catch (error) {
    await nats.close();
    throw error;
  }
}

export const SPEC = {
  typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
  value: { ociVersion: "1.1.0", process: { args: ["sh"], cwd: "/" }, root: { path: "rootfs" } },
};

export function container(id: string, extra: Record<string, unknown> = {}) {
  return { id, runtime: { name: "io.containerd.runc.v2" }, spec: SPEC, ...extra };
}
