/**
 * Event schema versions and upcasters. Every event type has a payload version;
 * reading an older one runs the upcasters from its version up to the current one,
 * so the rest of ctrmeta only ever sees current events. An event newer than this
 * build knows is an error: applying it as if it were current could corrupt the view.
 *
 * Version 0 is the first encoder's layout: no `ev` field in the envelope, and
 * snake_case record fields (`snapshot_key`, `media_type`, `created_at`,
 * `updated_at`) in container and image events.
 */
import type { EventType } from "./types.js";
import { emptyMap } from "../domain/labels.js";

/** Current payload version of every event type. */
export const EVENT_VERSIONS: Record<EventType, number> = {
  "namespace.created": 1,
  "namespace.updated": 1,
  "namespace.deleted": 1,
  "container.created": 1,
  "container.updated": 1,
  "container.deleted": 1,
  "image.created": 1,
  "image.updated": 1,
  "image.deleted": 1,
  "content.committed": 1,
  "content.updated": 1,
  "content.deleted": 1,
  "snapshot.prepared": 1,
  "snapshot.committed": 1,
  "snapshot.updated": 1,
  "snapshot.removed": 1,
  "lease.created": 1,
  "lease.deleted": 1,
  "lease.resource.added": 1,
  "lease.resource.deleted": 1,
  "gc.collected": 1,
};

type RawEvent = Record<string, unknown>;
type Upcaster = (event: RawEvent) => RawEvent;

export class FutureEventError extends Error {}

/** Rename keys of a record in place of a copy; missing keys are left alone. */
function renamed(record: unknown, names: Record<string, string>): unknown {
  if (typeof record !== "object" || record === null) return record;
  const out = emptyMap<unknown>() as RawEvent;
  for (const [key, value] of Object.entries(record)) out[names[key] ?? key] = value;
  return out;
}

const TIMESTAMPS = { created_at: "createdAt", updated_at: "updatedAt" };

function containerV0(event: RawEvent): RawEvent {
  return { ...event, container: renamed(event.container, { snapshot_key: "snapshotKey", ...TIMESTAMPS }) };
}

function imageV0(event: RawEvent): RawEvent {
  const image = renamed(event.image, TIMESTAMPS) as RawEvent;
  return { ...event, image: { ...image, target: renamed(image.target, { media_type: "mediaType" }) } };
}

const identity: Upcaster = (event) => event;

/** Upcasters per event type, per version they read. */
const UPCASTERS: Partial<Record<EventType, Record<number, Upcaster>>> = {
  "container.created": { 0: containerV0 },
  "container.updated": { 0: containerV0 },
  "image.created": { 0: imageV0 },
  "image.updated": { 0: imageV0 },
};

/** Bring an event of payload version `version` to the current version of its type. */
export function upcast(event: RawEvent & { type: string }, version: number): RawEvent {
  const type = event.type as EventType;
  const current = EVENT_VERSIONS[type];
  if (current === undefined) throw new FutureEventError(`unknown event type ${JSON.stringify(event.type)}: written by a newer ctrmeta?`);
  if (version > current) {
    throw new FutureEventError(`${type} version ${version} is newer than this ctrmeta reads (${current}): upgrade ctrmeta`);
  }
  let upgraded: RawEvent = event;
  for (let from = version; from < current; from++) upgraded = (UPCASTERS[type]?.[from] ?? identity)(upgraded);
  return upgraded;
}
