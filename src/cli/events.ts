/**
 * `ctrmeta events`: print notifications from the topics stream, from now or from
 * a sequence or a time, until interrupted. Every line starts with the stream
 * sequence, which `--from-seq` takes to resume.
 */
import { Command } from "commander";
import type { DeliveredEvent, SubscribeOptions } from "../client/events.js";
import { NOTIFICATION_TOPICS } from "../domain/decision.js";
import { InvalidArgument } from "../domain/errors.js";
import { rfc3339Problem } from "../domain/time.js";
import { globals, parseCount, withClient } from "./common.js";

interface EventsOptions {
  topic?: string[];
  allNamespaces?: boolean;
  fromSeq?: string;
  fromTime?: string;
  json?: boolean;
}

function printEvent(event: DeliveredEvent, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(event)}\n`);
    return;
  }
  process.stdout.write(`${event.seq} ${event.timestamp} ${event.namespace} ${event.topic} ${JSON.stringify(event.event.value)}\n`);
}

function parseTime(text: string): Date {
  const problem = rfc3339Problem(text);
  if (problem !== undefined) throw new InvalidArgument(`--from-time ${text}: expected an RFC 3339 time such as 2024-05-01T12:00:00Z (${problem})`);
  return new Date(text);
}

const KNOWN_TOPICS: ReadonlySet<string> = new Set(NOTIFICATION_TOPICS);

/**
 * A topic is `/` followed by `/`-separated components, like `/containers/create`.
 * One that ctrmeta never publishes gets a warning, since it would match nothing.
 */
function checkTopic(topic: string): string {
  if (!/^(\/[A-Za-z0-9][A-Za-z0-9._-]*)+$/.test(topic)) {
    throw new InvalidArgument(`--topic ${topic}: expected a topic such as /containers/create`);
  }
  if (!KNOWN_TOPICS.has(topic)) {
    process.stderr.write(`ctrmeta: warning: --topic ${topic} is not a topic ctrmeta publishes, so it matches no event; known topics: ${NOTIFICATION_TOPICS.join(" ")}\n`);
  }
  return topic;
}

export function eventsCommand(): Command {
  return new Command("events")
    .alias("event")
    .description("print notifications (/containers/create, ...) until interrupted; each line starts with its stream sequence")
    .option("--topic <topic...>", "only these topics, e.g. /containers/create")
    .option("-A, --all-namespaces", "events of every namespace, not only --namespace")
    .option("--from-seq <seq>", "start at this sequence of the topics stream instead of now")
    .option("--from-time <time>", "start at this RFC 3339 time instead of now")
    .option("--json", "print each notification as JSON with its sequence")
    .action(async (options: EventsOptions, cmd: Command) => {
      const { namespace } = globals(cmd);
      const subscription: SubscribeOptions = {
        from:
          options.fromSeq !== undefined
            ? { seq: parseCount("--from-seq", options.fromSeq) }
            : options.fromTime !== undefined
              ? { time: parseTime(options.fromTime) }
              : "now",
        topics: (options.topic ?? []).map(checkTopic),
      };
      if (!options.allNamespaces) subscription.namespace = namespace;

      const interrupted = new AbortController();
      process.once("SIGINT", () => interrupted.abort());
      process.once("SIGTERM", () => interrupted.abort());
      subscription.signal = interrupted.signal;
      await withClient(cmd, async (client) => {
        for await (const event of client.events.subscribe(subscription)) printEvent(event, options.json ?? false);
      });
    });
}
