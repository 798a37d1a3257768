/**
 * The ctrmeta client library: a typed client for the NATS API, and the error
 * classes its calls throw.
 *
 * Example:
 *   import { Client, NotFound } from "ctrmeta";
 *   const client = await Client.connect({ servers: "nats://127.0.0.1:4222", namespace: "default" });
 *   try {
 *     await client.containers.get("web");
 *   } catch (error) {
 *     if (error instanceof NotFound) console.log("no such container");
 *   }
 *   await client.close();
 */
export { Client, decodeReply, type Body, type CallOptions, type CallResult, type ClientOptions } from "./client.js";
export { EventsClient, type DeliveredEvent, type SubscribeOptions } from "./events.js";
export type {
  AnyBody,
  CollectionStats,
  ContainerRecord,
  ContentRecord,
  Explanation,
  GcNodeRecord,
  HistoryEntry,
  ImageRecord,
  LeaseRecord,
  LeaseResource,
  NamespaceRecord,
  SnapshotRecord,
  SnapshotRequest,
} from "./services.js";
export {
  AlreadyExists,
  Conflict,
  DeadlineExceeded,
  FailedPrecondition,
  InvalidArgument,
  MetadataError,
  NotFound,
  NotImplemented,
  Unavailable,
  UnknownError,
  type ErrorKind,
} from "../domain/errors.js";
