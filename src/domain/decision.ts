/**
 * What a command decides and what applying an event yields.
 *
 * A decide function reads state, validates, and returns the event to append plus the
 * result to reply with; it throws a MetadataError for a request that must fail and
 * writes nothing. An evolve function applies an event in log order and returns a
 * verdict: normally the notifications it produces, or `rejected` when a precondition
 * that spans several aggregates (namespace emptiness, snapshot parents, leases, GC
 * reachability) no longer held when the event reached its place in the log.
 */
import type { MetadataError } from "./errors.js";
import type { Timestamp } from "./time.js";
import type { MetadataEvent } from "../events/types.js";

/** Request context stamped by the command handler, so that decide stays pure. */
export interface CommandMeta {
  /** Namespace of the request context (may be "" only for namespace-service calls). */
  namespace: string;
  /** Lease of the request context (`containerd-lease`), if any. */
  lease?: string;
  now: Timestamp;
  requestId: string;
}

export interface Decision<R> {
  /** The event to append; absent when the command changes nothing. */
  event?: MetadataEvent;
  /** The reply once the event is applied. */
  result: R;
  /**
   * An error to return once the event is applied: containerd adds an already
   * committed digest to the request's lease and still fails `AlreadyExists`.
   */
  errorAfterApply?: MetadataError;
}

/** Every topic ctrmeta publishes notifications on, as containerd names them. */
export const NOTIFICATION_TOPICS = [
  "/containers/create",
  "/containers/update",
  "/containers/delete",
  "/images/create",
  "/images/update",
  "/images/delete",
  "/namespaces/create",
  "/namespaces/update",
  "/namespaces/delete",
  "/content/delete",
  "/snapshot/prepare",
  "/snapshot/commit",
  "/snapshot/remove",
  "/leases/delete",
] as const;

export type NotificationTopic = (typeof NOTIFICATION_TOPICS)[number];

/** A containerd event to publish on a topic, payload fields in lowerCamelCase. */
export interface Notification {
  /** containerd topic, e.g. `/containers/create`. */
  topic: NotificationTopic;
  /**
   * Full protobuf name of the payload, e.g. `containerd.events.ContainerCreate`;
   * containerd declares image events in `containerd.services.images.v1`.
   */
  type: string;
  payload: Record<string, unknown>;
  /** Namespace of the envelope when it differs from the event's (never, so far). */
  namespace?: string;
}

export type Verdict =
  | {
      rejected?: undefined;
      notifications: Notification[];
      /** The event deleted something, which makes garbage collection due. */
      dirty?: boolean;
      /** What an event did beyond its notifications, e.g. what a collection removed. */
      outcome?: unknown;
    }
  | { rejected: MetadataError; notifications?: undefined; dirty?: undefined; outcome?: undefined };
