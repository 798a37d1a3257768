/**
 * The events service's Subscribe: live notifications of every namespace, from the
 * moment of the call, as containerd's event exchange delivers them. Filters use
 * containerd's syntax on the envelope's `namespace` and `topic` and on the event's
 * fields (`event.id`, `event.labels.<key>`, `event.runtime.name`...), named as in
 * the event's .proto (snake_case).
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type protobuf from "protobufjs";
import { isObject, readStringList, type Body } from "../api/wire.js";
import { MetadataError, Unavailable, UnknownError } from "../domain/errors.js";
import type { NotificationEnvelope } from "../events/notifier.js";
import { parseFilters, type FieldAdaptor, type Filter } from "../filters/filters.js";
import type { Layout } from "../nats/subjects.js";
import { encodeBody, messageFromBody } from "./convert.js";
import type { GrpcMethod } from "./server.js";

const ABSENT = { value: "", present: false };

function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_match, letter: string) => letter.toUpperCase());
}

/**
 * Look up a field path in an event message the way containerd's generated
 * `Field` methods do: strings by name, `labels` by the rest of the path joined
 * with ".", nested messages recursively. Any values and other types are absent.
 */
function eventField(type: protobuf.Type, message: Body, fieldpath: readonly string[]): { value: string; present: boolean } {
  const [first, ...rest] = fieldpath;
  if (first === undefined) return ABSENT;
  const field = type.fields[camelCase(first)];
  if (!field) return ABSENT;
  const value = message[field.name];
  if (field.map) {
    if (!isObject(value) || Object.keys(value).length === 0) return ABSENT;
    const item = value[rest.join(".")];
    return typeof item === "string" ? { value: item, present: true } : ABSENT;
  }
  if (field.type === "string" && !field.repeated) {
    const text = typeof value === "string" ? value : "";
    return { value: text, present: text !== "" };
  }
  const nested = field.resolvedType;
  if (nested && "fieldsArray" in nested && nested.fullName !== ".google.protobuf.Any" && isObject(value)) {
    return eventField(nested, value, rest);
  }
  return ABSENT;
}

/** Look up the protobuf type of an event; undefined for a type containerd's protos do not define. */
function eventType(root: protobuf.Root, typeUrl: string): protobuf.Type | undefined {
  try {
    return root.lookupType(typeUrl);
  } catch {
    return undefined;
  }
}

/**
 * Convert a notification to an Envelope body, with the event protobuf-encoded, or
 * JSON-encoded when its type has no .proto, and an adaptor for filters.
 */
export function envelopeOf(root: protobuf.Root, notification: NotificationEnvelope): { envelope: Body; adaptor: FieldAdaptor } {
  const { typeUrl, value } = notification.event;
  const payload = isObject(value) ? value : {};
  const type = eventType(root, typeUrl);
  const message = type ? messageFromBody(type, payload) : undefined;
  const bytes = type ? encodeBody(type, payload) : new TextEncoder().encode(JSON.stringify(payload));
  const envelope: Body = {
    timestamp: notification.timestamp,
    namespace: notification.namespace,
    topic: notification.topic,
    event: { typeUrl, valueBase64: Buffer.from(bytes).toString("base64") },
  };
  const adaptor: FieldAdaptor = (fieldpath) => {
    switch (fieldpath[0]) {
      case "namespace":
        return { value: notification.namespace, present: notification.namespace !== "" };
      case "topic":
        return { value: notification.topic, present: notification.topic !== "" };
      case "event":
        return type && message ? eventField(type, message, fieldpath.slice(1)) : ABSENT;
      default:
        return ABSENT;
    }
  };
  return { envelope, adaptor };
}

/** Parse the subscription's filters; an error fails the call as containerd's exchange does (gRPC Unknown). */
function subscriptionFilter(request: Body): Filter {
  try {
    return parseFilters(readStringList(request, "filters"));
  } catch (error) {
    const message = error instanceof MetadataError ? error.message : String(error);
    throw new UnknownError(`subscription error: failed parsing subscription filters: ${message}`);
  }
}

export interface SubscribeLog {
  error(fields: Record<string, unknown>, message: string): void;
}

/** Events/Subscribe over a core NATS subscription to every notification subject. */
export function subscribeMethod(nc: NatsConnection, layout: Layout, root: protobuf.Root, log: SubscribeLog): GrpcMethod {
  const decoder = new TextDecoder();
  return {
    kind: "stream",
    async run(_context, request, send, call) {
      const filter = subscriptionFilter(request);
      const subscription = nc.subscribe(layout.topicFilter());
      const stop = () => subscription.unsubscribe();
      call.signal.addEventListener("abort", stop, { once: true });
      try {
        // The subscription is registered with the server before the first event is sent.
        await nc.flush();
        for await (const message of subscription) {
          let notification: NotificationEnvelope;
          try {
            notification = JSON.parse(decoder.decode(message.data)) as NotificationEnvelope;
          } catch (error) {
            log.error({ err: error, subject: message.subject }, "skipping a notification that is not JSON");
            continue;
          }
          const { envelope, adaptor } = envelopeOf(root, notification);
          // NOTE: replies to a client that reads slower than events arrive are buffered without a bound.
          if (filter.match(adaptor)) send(envelope);
        }
      } finally {
        call.signal.removeEventListener("abort", stop);
        stop();
      }
      if (!call.signal.aborted) throw new Unavailable("event subscription ended: the NATS connection closed");
    },
  };
}
