/**
 * A private nats-server with ctrmeta's streams and a connection to it, for the
 * scenarios that build a large log and read it in this process.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { applyStreams } from "../../src/nats/streams.js";
import { Layout } from "../../src/nats/subjects.js";
import { startTestServer, type TestServer } from "../../test/helpers/nats.js";

export interface LogStack {
  nats: TestServer;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  layout: Layout;
  close(): Promise<void>;
}

/** Start a nats-server with ctrmeta's streams, or add them to `existing`, which `close()` then leaves running. */
export async function startLogStack(existing?: TestServer): Promise<LogStack> {
  const nats = existing ?? (await startTestServer());
  try {
    const nc = await connect({ servers: nats.url, noAsyncTraces: true });
    const jsm = await jetstreamManager(nc);
    const layout = new Layout();
    await applyStreams(jsm, layout);
    return {
      nats,
      nc,
      js: jetstream(nc),
      jsm,
      layout,
      async close() {
        await nc.close();
        if (!existing) await nats.close();
      },
    };
  } catch (error) {
    if (!existing) await nats.close();
    throw error;
  }
}

let collect: (() => void) | undefined;

/** Run a full garbage collection of this process's heap (V8's `gc()`, enabled at first use). */
export function collectGarbage(): void {
  if (!collect) {
    setFlagsFromString("--expose-gc");
    collect = runInNewContext("gc") as () => void;
  }
  collect();
  collect();
}

/** Return the bytes this process uses in its JavaScript heap and in buffers outside it. */
export function heapBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}
