/**
 * Applies the stream definitions in `streams/*.json` idempotently at start, then
 * reads each stream back and fails if the server kept a different value for an
 * option listed under `verify`: nats-server 2.9 silently drops options it does
 * not know, and ctrmeta must not run on a log that lacks what it relies on.
 */
import { readFileSync } from "node:fs";
import { JetStreamApiError, JetStreamApiCodes, type ConsumerConfig, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import { Objm, setSha256Backend, type ObjectStore } from "@nats-io/obj";
import type { NatsConnection } from "@nats-io/nats-core";
import type { Layout } from "./subjects.js";

export interface StreamDefinition {
  kind: "stream";
  description: string;
  config: Record<string, unknown>;
  verify: string[];
}

const STREAMS_DIR = new URL("../../../streams/", import.meta.url);

export interface ConsumerDefinition {
  kind: "consumer";
  description: string;
  stream: string;
  config: Record<string, unknown>;
  verify: string[];
  /**
   * Delete and create the consumer again when the server rejects an update of an
   * existing one to this configuration (an acknowledgement policy, for one, cannot
   * change). Only for a consumer whose position may be lost.
   */
  replace_when_not_updatable?: boolean;
}

export interface BucketDefinition {
  kind: "bucket";
  description: string;
  name: string;
  history: number;
  ttl_ms: number;
  verify: string[];
}

/** Read a definition from `streams/`, with the layout's prefix filled in. */
export function loadDefinition<T>(file: string, layout: Layout): T {
  const text = readFileSync(new URL(file, STREAMS_DIR), "utf8")
    .replaceAll("{PREFIX}", layout.prefix.toUpperCase())
    .replaceAll("{prefix}", layout.prefix);
  return JSON.parse(text) as T;
}

export function loadStreamDefinition(file: string, layout: Layout): StreamDefinition {
  return loadDefinition<StreamDefinition>(file, layout);
}

function checkVerified(what: string, verify: string[], wanted: Record<string, unknown>, actual: Record<string, unknown>): void {
  const problems = verify
    .filter((key) => !sameValue(wanted[key], actual[key]))
    .map((key) => `${key}: wanted ${JSON.stringify(wanted[key])}, server has ${JSON.stringify(actual[key])}`);
  if (problems.length > 0) {
    throw new Error(`${what} is not configured as ctrmeta needs (is the nats-server older than 2.9?): ${problems.join("; ")}`);
  }
}

/** Create or update a durable consumer, then verify it. */
export async function applyConsumer(jsm: JetStreamManager, definition: ConsumerDefinition): Promise<ConsumerConfig> {
  const wanted = definition.config;
  const name = String(wanted.durable_name);
  const info = await jsm.consumers.add(definition.stream, wanted as Partial<ConsumerConfig>).catch(async (error: unknown) => {
    if (!(error instanceof JetStreamApiError)) throw error;
    // An existing consumer with other settings: update what may change.
    try {
      return await jsm.consumers.update(definition.stream, name, wanted as Partial<ConsumerConfig>);
    } catch (refused) {
      if (!(refused instanceof JetStreamApiError) || definition.replace_when_not_updatable !== true) throw refused;
      await jsm.consumers.delete(definition.stream, name).catch((gone: unknown) => {
        // Another instance starting at the same time may have deleted it first.
        if (!(gone instanceof JetStreamApiError && gone.code === JetStreamApiCodes.ConsumerNotFound)) throw gone;
      });
      return jsm.consumers.add(definition.stream, wanted as Partial<ConsumerConfig>);
    }
  });
  checkVerified(`consumer ${name} on ${definition.stream}`, definition.verify, wanted, info.config as unknown as Record<string, unknown>);
  return info.config;
}

/** Create or open a KV bucket, then verify its stream. */
export async function applyBucket(nc: NatsConnection, jsm: JetStreamManager, definition: BucketDefinition, replicas?: number): Promise<KV> {
  const kv = await new Kvm(nc).create(definition.name, {
    history: definition.history,
    ttl: definition.ttl_ms,
    ...(replicas === undefined ? {} : { replicas }),
  });
  const info = await jsm.streams.info(`KV_${definition.name}`);
  const wanted: Record<string, unknown> = { max_age: definition.ttl_ms * 1_000_000, max_msgs_per_subject: definition.history };
  checkVerified(`bucket ${definition.name}`, definition.verify, wanted, info.config as unknown as Record<string, unknown>);
  return kv;
}

export interface ApplyOptions {
  /** Overrides `num_replicas` of every definition (1 on one node, 3 on a cluster). */
  replicas?: number;
}

function sameValue(expected: unknown, actual: unknown): boolean {
  return JSON.stringify(expected) === JSON.stringify(actual);
}

/** Create or update one stream, then verify it; returns the config the server keeps. */
export async function applyStream(jsm: JetStreamManager, definition: StreamDefinition, options: ApplyOptions = {}): Promise<StreamConfig> {
  const wanted = { ...definition.config } as Record<string, unknown>;
  if (options.replicas !== undefined) wanted.num_replicas = options.replicas;
  const name = String(wanted.name);

  let exists = true;
  try {
    await jsm.streams.info(name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound)) throw error;
    exists = false;
  }
  if (exists) await jsm.streams.update(name, wanted as Partial<StreamConfig>);
  else await jsm.streams.add({ ...(wanted as Partial<StreamConfig>), name });

  const actual = (await jsm.streams.info(name)).config as unknown as Record<string, unknown>;
  checkVerified(`stream ${name}`, definition.verify, wanted, actual);
  return actual as unknown as StreamConfig;
}

/** Apply every stream ctrmeta uses. */
export async function applyStreams(jsm: JetStreamManager, layout: Layout, options: ApplyOptions = {}): Promise<void> {
  for (const file of ["log.json", "topics.json"]) {
    await applyStream(jsm, loadStreamDefinition(file, layout), options);
  }
}

export interface ObjectStoreDefinition {
  kind: "object-store";
  description: string;
  name: string;
}

/**
 * Create or open an object store. The object store checks every object it reads
 * or writes against its SHA-256; @nats-io/obj 3.4 computes that in JavaScript
 * unless set to use node:crypto, which is several times faster on a view snapshot
 * of tens of megabytes. The setting is process-wide.
 */
export async function applyObjectStore(nc: NatsConnection, definition: ObjectStoreDefinition, replicas?: number): Promise<ObjectStore> {
  setSha256Backend("native");
  return new Objm(nc).create(definition.name, {
    description: definition.description,
    ...(replicas === undefined ? {} : { replicas }),
  });
}
