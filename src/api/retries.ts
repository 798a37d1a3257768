/**
 * Tests of the earlier events a retried API request may replay. A client retries
 * with the request id of its first attempt and gets that attempt's result, so a
 * request id reused for another method would otherwise get a result of another shape.
 */
import type { Command, CommandOutcome } from "../commands/handler.js";
import type { AggregateKind, EventType, MetadataEvent } from "../events/types.js";
import { aggregateOf } from "../events/types.js";
import type { Commands } from "./limits.js";

/** Event types each writing method appends, by `service.method`. */
const METHOD_EVENTS: Record<string, readonly EventType[]> = {
  "containers.create": ["container.created"],
  "containers.update": ["container.updated"],
  "containers.delete": ["container.deleted"],
  "images.create": ["image.created"],
  "images.update": ["image.updated"],
  "images.delete": ["image.deleted"],
  "namespaces.create": ["namespace.created"],
  "namespaces.update": ["namespace.updated"],
  "namespaces.delete": ["namespace.deleted"],
  "leases.create": ["lease.created"],
  "leases.delete": ["lease.deleted"],
  "leases.addResource": ["lease.resource.added"],
  "leases.deleteResource": ["lease.resource.deleted"],
};

/**
 * Content and snapshot writes in a lease may append the lease's resource event
 * instead of their own (a commit of content that exists), so these services
 * accept any event of their object kind or of a lease.
 */
const SERVICE_KINDS: Record<string, readonly AggregateKind[]> = {
  content: ["content", "lease"],
  snapshots: ["snapshot", "lease"],
};

/** The test of a retry for `service.method`, or undefined when the method has none. */
export function retryCheck(service: string, method: string): Command<unknown>["retryOf"] {
  const operation = `${service}.${method}`;
  const types = METHOD_EVENTS[operation];
  if (types) return { operation, accepts: (event: MetadataEvent) => types.includes(event.type) };
  const kinds = SERVICE_KINDS[service];
  if (kinds) return { operation, accepts: (event: MetadataEvent) => kinds.includes(aggregateOf(event).kind) };
  return undefined;
}

/** Commands that carry the retry test of the API method that sends them. */
export function checkedRetries(commands: Commands, service: string, method: string): Commands {
  const retryOf = retryCheck(service, method);
  if (!retryOf) return commands;
  return {
    execute<R>(command: Command<R>): Promise<CommandOutcome<R>> {
      return commands.execute({ retryOf, ...command });
    },
  };
}
