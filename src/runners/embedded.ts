/**
 * A throw-away ctrmeta for the conformance and replay runners: a private
 * nats-server on a free 127.0.0.1 port with a temporary store, one instance, and a
 * client. `close()` stops all of it and deletes the store.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { Client } from "../client/client.js";
import { freePort, startNatsServer, type EmbeddedServer } from "../nats/server.js";
import { Instance, type InstanceOptions } from "../service.js";

export interface EmbeddedStack {
  url: string;
  server: EmbeddedServer;
  instance: Instance;
  client: Client;
  close(): Promise<void>;
}

export async function startEmbeddedStack(options: Partial<InstanceOptions> & { logger?: Logger } = {}): Promise<EmbeddedStack> {
  const dataDir = mkdtempSync(join(tmpdir(), "ctrmeta-run-"));
  let server: EmbeddedServer | undefined;
  for (let attempt = 1; !server; attempt++) {
    try {
      server = await startNatsServer({ port: await freePort(), dataDir });
    } catch (error) {
      if (attempt >= 5 || !/already in use/.test((error as Error).message)) {
        rmSync(dataDir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  const logger = options.logger ?? pino({ level: "silent" });
  let instance: Instance | undefined;
  try {
    instance = await Instance.start({ servers: server.url, ...options, logger });
    const client = await Client.connect({ servers: server.url, prefix: options.prefix });
    const running = instance;
    const natsServer = server;
    return {
      url: server.url,
      server,
      instance,
      client,
      async close() {
        await client.close();
        await running.close();
        await natsServer.stop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await instance?.close();
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
}
