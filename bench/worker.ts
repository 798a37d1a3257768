/**
 * Child process of the benchmarks that hosts the system under test (a ctrmeta
 * instance, or the raw reference services), so that it has its own event loop
 * and heap as a deployed service would, apart from the load generator. It is
 * driven by IPC messages from bench/lib/host.ts and exits on `stop`.
 */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { pino } from "pino";
import { Instance, type InstanceOptions } from "../src/service.js";
import { startRawServices, type RawServices } from "./lib/raw.js";
import type { HostReply, HostRequest } from "./lib/host.js";

let instance: Instance | undefined;
let raw: { services: RawServices; nc: NatsConnection } | undefined;

function send(reply: HostReply): void {
  process.send!(reply);
}

async function handle(request: HostRequest): Promise<HostReply> {
  switch (request.type) {
    case "instance": {
      const options: InstanceOptions = { servers: request.servers, logger: pino({ level: process.env.BENCH_LOG ?? "warn" }), ...request.options };
      instance = await Instance.start(options);
      return { type: "ok" };
    }
    case "raw": {
      const nc = await connect({ servers: request.servers.split(","), noAsyncTraces: true });
      raw = { nc, services: await startRawServices(nc, Buffer.from(request.echoReplyBase64, "base64")) };
      return { type: "ok" };
    }
    case "echo":
      if (!raw) throw new Error("no raw services run in this worker");
      raw.services.setEchoReply(Buffer.from(request.replyBase64, "base64"));
      return { type: "ok" };
    case "memory":
      return { type: "memory", rss: process.memoryUsage().rss };
    case "stop":
      await instance?.close();
      if (raw) {
        await raw.services.stop();
        await raw.nc.drain();
      }
      return { type: "ok" };
  }
}

process.on("message", (message: HostRequest) => {
  handle(message).then(
    (reply) => {
      send(reply);
      if (message.type === "stop") setImmediate(() => process.exit(0));
    },
    (error: unknown) => send({ type: "error", message: (error as Error).stack ?? String(error) }),
  );
});
