/**
 * Applies the stream definitions in `streams/*.json` idempotently at start, then
 * reads each stream back and fails if the server kept a different value for an
 * option listed under `verify`: nats-server 2.9 silently drops options it does
 * not know, and ctrmeta must not run on a log that lacks what it relies on.
 */
import { readFileSync } from "node:fs";
import { JetStreamApiError, JetStreamApiCodes, type JetStreamManager, type StreamConfig } from "@nats-io/jetstream";
import type { Layout } from "./subjects.js";

export interface StreamDefinition {
  kind: "stream";
  description: string;
  config: Record<string, unknown>;
  verify: string[];
}

const STREAMS_DIR = new URL("../../../streams/", import.meta.url);

export function loadStreamDefinition(file: string, layout: Layout): StreamDefinition {
  const text = readFileSync(new URL(file, STREAMS_DIR), "utf8")
    .replaceAll("{PREFIX}", layout.prefix.toUpperCase())
    .replaceAll("{prefix}", layout.prefix);
  return JSON.parse(text) as StreamDefinition;
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
  const problems = definition.verify
    .filter((key) => !sameValue(wanted[key], actual[key]))
    .map((key) => `${key}: wanted ${JSON.stringify(wanted[key])}, server has ${JSON.stringify(actual[key])}`);
  if (problems.length > 0) {
    throw new Error(`stream ${name} is not configured as ctrmeta needs (is the nats-server older than 2.9?): ${problems.join("; ")}`);
  }
  return actual as unknown as StreamConfig;
}

/** Apply every stream ctrmeta uses. */
export async function applyStreams(jsm: JetStreamManager, layout: Layout, options: ApplyOptions = {}): Promise<void> {
  for (const file of ["log.json", "topics.json"]) {
    await applyStream(jsm, loadStreamDefinition(file, layout), options);
  }
}
