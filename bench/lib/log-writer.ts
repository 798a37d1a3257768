/**
 * Writes prepared events straight into ctrmeta's log, pipelined, to build large
 * states quickly (a million events, a hundred thousand containers) before an
 * instance reads them. The events are those the command path would append.
 */
import { randomUUID } from "node:crypto";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Container } from "../../src/domain/container.js";
import type { ContentInfo } from "../../src/domain/content.js";
import type { Image } from "../../src/domain/image.js";
import { ENVELOPE_VERSION, encodeEnvelope } from "../../src/events/codec.js";
import type { MetadataEvent } from "../../src/events/types.js";
import { aggregateOf } from "../../src/events/types.js";
import { EVENT_VERSIONS } from "../../src/events/upcast.js";
import { EVENT_TYPE_HEADER } from "../../src/nats/event-store.js";
import type { Layout } from "../../src/nats/subjects.js";
import { containerBody } from "./fixture.js";
import { runLoad } from "./measure.js";

const TIME = "2026-12-04T20:11:48.546000000Z";

/**
 * Return a distinct time for record `index`, as real records have. The view shares
 * equal short strings between records, so one time for all would understate its memory.
 */
function timeOf(index: number): string {
  return `2026-12-04T20:11:48.${String(index % 1_000_000_000).padStart(9, "0")}Z`;
}

/** The template's spec as compact JSON bytes, shared by every record: records are never mutated. */
const SPEC_VALUE = new TextEncoder().encode(JSON.stringify(containerBody("template").spec.value));

/** Build the domain record of `containerBody(id, index)`, with `generation` in a label so updates differ. */
export function containerRecord(id: string, index: number, generation = 0): Container {
  const body = containerBody(id, index);
  const labels = Object.assign(Object.create(null) as Record<string, string>, body.labels);
  if (generation > 0) labels["bench.generation"] = String(generation);
  return {
    id,
    labels,
    image: body.image,
    runtime: { name: body.runtime.name },
    spec: { typeUrl: body.spec.typeUrl, value: SPEC_VALUE },
    snapshotter: body.snapshotter,
    snapshotKey: body.snapshotKey,
    extensions: Object.create(null) as Record<string, never>,
    sandbox: "",
    createdAt: timeOf(index * 1000),
    updatedAt: timeOf(index * 1000 + generation),
  };
}

/** Build a content record for digest `sha256:<64 hex digits of index>`. */
export function contentRecord(index: number): ContentInfo {
  return { digest: digestOf(index), size: 1024 + (index % 4096), labels: Object.create(null) as Record<string, string>, createdAt: TIME, updatedAt: TIME };
}

export function digestOf(index: number): string {
  return `sha256:${index.toString(16).padStart(64, "0")}`;
}

/** Image `name` whose target is the blob `digestOf(index)`. */
export function imageRecord(name: string, index: number): Image {
  return {
    name,
    labels: Object.create(null) as Record<string, string>,
    target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digestOf(index), size: 1024 + (index % 4096), annotations: Object.create(null) as Record<string, string> },
    createdAt: TIME,
    updatedAt: TIME,
  };
}

/**
 * Append `count` events, `eventAt(i)` in namespace `namespace`, with `window`
 * publishes in flight. Returns the rate in events per second.
 */
export async function appendEvents(
  js: JetStreamClient,
  layout: Layout,
  namespace: string,
  count: number,
  eventAt: (index: number) => MetadataEvent,
  window = 256,
): Promise<number> {
  const result = await runLoad({
    concurrency: window,
    count,
    operation: (index) => {
      const event = eventAt(index);
      const data = encodeEnvelope({ v: ENVELOPE_VERSION, ev: EVENT_VERSIONS[event.type], ns: namespace, time: TIME, req: randomUUID(), event });
      const headers = natsHeaders();
      headers.set(EVENT_TYPE_HEADER, event.type);
      return js.publish(layout.aggregateSubject(namespace, aggregateOf(event)), data, { headers, timeout: 60_000 });
    },
  });
  return result.rate;
}

/**
 * Return the event mix of a long-lived log: `containers` creations, then updates
 * that change one label, round robin over the containers.
 */
export function containerHistory(containers: number): (index: number) => MetadataEvent {
  return (index) => {
    const slot = index % containers;
    const id = `c-${slot}`;
    if (index < containers) return { type: "container.created", container: containerRecord(id, slot) };
    return { type: "container.updated", container: containerRecord(id, slot, Math.floor(index / containers)) };
  };
}
