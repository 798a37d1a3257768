/**
 * `ctrmeta events`: print notifications as they are published (core NATS), or
 * replay them from the topics stream from a sequence or a time and then follow.
 */
import { Command } from "commander";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { Msg } from "@nats-io/nats-core";
import type { NotificationEnvelope } from "../events/notifier.js";
import { InvalidArgument } from "../domain/errors.js";
import { globals, parseCount, withClient } from "./common.js";

interface EventsOptions {
  topic?: string;
  allNamespaces?: boolean;
  fromSeq?: string;
  fromTime?: string;
  json?: boolean;
}

function printNotification(data: Uint8Array, json: boolean, seq?: number): void {
  const text = new TextDecoder().decode(data);
  if (json) {
    process.stdout.write(seq === undefined ? `${text}\n` : `${JSON.stringify({ seq, ...(JSON.parse(text) as object) })}\n`);
    return;
  }
  const envelope = JSON.parse(text) as NotificationEnvelope;
  const prefix = seq === undefined ? "" : `${seq} `;
  process.stdout.write(`${prefix}${envelope.timestamp} ${envelope.namespace} ${envelope.topic} ${JSON.stringify(envelope.event.value)}\n`);
}

function parseTime(text: string): Date {
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new InvalidArgument(`--from-time ${text}: expected an RFC 3339 time such as 2024-05-01T12:00:00Z`);
  return time;
}

export function eventsCommand(): Command {
  return new Command("events")
    .alias("event")
    .description("print notifications (/containers/create, ...) until interrupted")
    .option("--topic <topic>", "only this topic, e.g. /containers/create")
    .option("-A, --all-namespaces", "events of every namespace, not only --namespace")
    .option("--from-seq <seq>", "replay from this sequence of the topics stream, then follow")
    .option("--from-time <time>", "replay from this RFC 3339 time, then follow")
    .option("--json", "print each notification as its JSON envelope")
    .action(async (options: EventsOptions, cmd: Command) => {
      const { namespace } = globals(cmd);
      const startTime = options.fromTime === undefined ? undefined : parseTime(options.fromTime);
      await withClient(cmd, async (client) => {
        const filter = client.layout.topicFilter(options.allNamespaces ? undefined : namespace, options.topic);
        const json = options.json ?? false;
        const stop = new Promise<void>((resolve) => {
          process.once("SIGINT", resolve);
          process.once("SIGTERM", resolve);
        });

        if (options.fromSeq === undefined && options.fromTime === undefined) {
          const subscription = client.nc.subscribe(filter, {
            callback: (error: Error | null, msg: Msg) => {
              if (!error) printNotification(msg.data, json);
            },
          });
          await stop;
          subscription.unsubscribe();
          return;
        }

        const js = jetstream(client.nc);
        const consumer = await js.consumers.get(client.layout.topicStream, {
          filter_subjects: filter,
          ...(options.fromSeq !== undefined
            ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: parseCount("--from-seq", options.fromSeq) }
            : { deliver_policy: DeliverPolicy.StartTime, opt_start_time: startTime!.toISOString() }),
        });
        const messages = await consumer.consume();
        void stop.then(() => messages.close());
        for await (const message of messages) printNotification(message.data, json, message.seq);
      });
    });
}
