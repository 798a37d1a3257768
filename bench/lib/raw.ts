/**
 * The raw JetStream references: what NATS itself costs for the work a command
 * does, without ctrmeta. All of them use streams and subjects under `rawbench`, on
 * the same server as the ctrmeta under test.
 */
import { headers as natsHeaders, type NatsConnection, type Subscription } from "@nats-io/nats-core";
import { jetstream, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Svcm, type Service } from "@nats-io/services";
import { RetentionPolicy, StorageType, DiscardPolicy } from "@nats-io/jetstream";

export const RAW_STREAM = "RAWBENCH";
export const RAW_LOG_PREFIX = "rawbench.log";
export const RAW_COMMAND_SUBJECT = "rawbench.command";
export const RAW_ECHO_SUBJECT = "rawbench.echo";
/** Header naming the object of a raw command, which picks its subject. */
export const RAW_ID_HEADER = "Bench-Id";

/** Create a file-stored stream configured like ctrmeta's log (no dedupe id is sent to it). */
export async function createRawStream(jsm: JetStreamManager, replicas = 1): Promise<void> {
  await jsm.streams.add({
    name: RAW_STREAM,
    subjects: [`${RAW_LOG_PREFIX}.>`],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    duplicate_window: 120_000_000_000,
    allow_direct: true,
    num_replicas: replicas,
  });
}

export async function deleteRawStream(jsm: JetStreamManager): Promise<void> {
  await jsm.streams.delete(RAW_STREAM).catch(() => undefined);
}

export interface RawServices {
  /** Make the echo reply with `reply` from now on. */
  setEchoReply(reply: Uint8Array): void;
  stop(): Promise<void>;
}

/**
 * Start the ceiling of a command and the ceiling of a read. The first is a
 * @nats-io/services endpoint that publishes the request body to `rawbench.log.<id>`,
 * expecting the subject to have no message yet, and replies with the sequence. The
 * second is a core echo that replies to every request with `echoReply`.
 */
export async function startRawServices(nc: NatsConnection, echoReply: Uint8Array): Promise<RawServices> {
  const js: JetStreamClient = jetstream(nc);
  const encoder = new TextEncoder();
  const service: Service = await new Svcm(nc).add({ name: "rawbench", version: "0.0.1", queue: "rawbench" });
  service.addEndpoint("command", {
    subject: RAW_COMMAND_SUBJECT,
    handler: (error, msg) => {
      if (error) return;
      const id = msg.headers?.get(RAW_ID_HEADER) ?? "";
      js.publish(`${RAW_LOG_PREFIX}.${id}`, msg.data, { expect: { lastSubjectSequence: 0 } }).then(
        (ack) => msg.respond(encoder.encode(`{"seq":${ack.seq}}`)),
        (failure: unknown) => msg.respondError(500, (failure as Error).message),
      );
    },
  });
  let reply = echoReply;
  const echo: Subscription = nc.subscribe(RAW_ECHO_SUBJECT, { callback: (_error, msg) => {
      msg.respond(reply);
    },
  });
  await nc.flush();
  return {
    setEchoReply(next) {
      reply = next;
    },
    async stop() {
      echo.unsubscribe();
      await service.stop();
    },
  };
}

/** Send one raw command for object `id` with `body` encoded as JSON, as the ctrmeta client does. */
export async function rawCommand(nc: NatsConnection, id: string, body: unknown): Promise<void> {
  const headers = natsHeaders();
  headers.set(RAW_ID_HEADER, id);
  const reply = await nc.request(RAW_COMMAND_SUBJECT, new TextEncoder().encode(JSON.stringify(body)), { headers, timeout: 30_000 });
  if (reply.headers?.get("Nats-Service-Error-Code")) throw new Error(`raw command failed: ${reply.headers.get("Nats-Service-Error")}`);
}

/** Send one core request to the raw echo, with a body of the size of a ctrmeta Get request. */
export async function rawEcho(nc: NatsConnection, body: unknown): Promise<void> {
  await nc.request(RAW_ECHO_SUBJECT, new TextEncoder().encode(JSON.stringify(body)), { timeout: 30_000 });
}
