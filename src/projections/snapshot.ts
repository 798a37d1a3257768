/**
 * Snapshots of the view, so that an instance starts from the latest snapshot and
 * replays only the log after it.
 *
 * A snapshot is one object in a JetStream object store: a sequence of MessagePack
 * values, a header first (`kind`, `format`, `seq`), then batches of records, then
 * an `end` item with the counts. A snapshot of another format is ignored, never
 * read as this one. Records are immutable values, so capturing the view is a quick
 * copy of map entries, and encoding can yield to other work between batches.
 */
import type { ObjectStore } from "@nats-io/obj";
import { Unpackr } from "msgpackr";
import type { Container } from "../domain/container.js";
import type { ContentInfo } from "../domain/content.js";
import { errorFromReply } from "../domain/errors.js";
import type { Image } from "../domain/image.js";
import { emptyMap, type StringMap } from "../domain/labels.js";
import type { Lease } from "../domain/lease.js";
import type { Snapshot } from "../domain/snapshot.js";
import { emptyState, newNamespaceState, type MetadataState } from "../domain/state.js";
import { packValue } from "../events/codec.js";
import type { Projection, ProjectionImage, RequestOutcome } from "./projection.js";

/** Layout of snapshot objects; bump when it changes, and older snapshots are ignored. */
export const SNAPSHOT_FORMAT = 1;
export const SNAPSHOT_KIND = "ctrmeta-projection";
export const SNAPSHOT_OBJECT = "projection";

/** Records per batch item, and target size of the chunks handed to the object store. */
const BATCH = 500;
const CHUNK_BYTES = 1024 * 1024;

export interface SnapshotHeader {
  kind: string;
  format: number;
  seq: number;
  lastEventTime: string;
  writtenAt: string;
}

type SerializedLease = Omit<Lease, "resources"> & {
  resources: { content: string[]; ingests: string[]; snapshots: Array<[string, string[]]> };
};

/** One item of a snapshot after the header. */
type Item =
  | ["ns", string, StringMap, boolean, number]
  | ["containers", string, Container[]]
  | ["images", string, Image[]]
  | ["content", string, ContentInfo[]]
  | ["snapshots", string, Snapshot[]]
  | ["leases", string, SerializedLease[]]
  | ["subjects", Array<[string, number]>]
  | ["requests", Array<[string, number, string?, string?]>]
  | ["end", number];

function serializeLease(lease: Lease): SerializedLease {
  return {
    ...lease,
    resources: {
      content: [...lease.resources.content],
      ingests: [...lease.resources.ingests],
      snapshots: [...lease.resources.snapshots].map(([snapshotter, keys]) => [snapshotter, [...keys]]),
    },
  };
}

function deserializeLease(lease: SerializedLease): Lease {
  return {
    ...lease,
    resources: {
      content: new Set(lease.resources.content),
      ingests: new Set(lease.resources.ingests),
      snapshots: new Map(lease.resources.snapshots.map(([snapshotter, keys]) => [snapshotter, new Set(keys)])),
    },
  };
}

function batches<T>(values: T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < values.length; start += BATCH) out.push(values.slice(start, start + BATCH));
  return out;
}

/** Copy the view's records and indexes at its current position; cheap, because records never change. */
export function captureItems(projection: Projection): { header: SnapshotHeader; items: Item[] } {
  const image = projection.image();
  const items: Item[] = [];
  for (const namespace of image.state.namespaces.values()) {
    const name = namespace.name;
    items.push(["ns", name, namespace.labels, namespace.hasContainerBucket, namespace.lastWriteSeq]);
    for (const batch of batches([...namespace.containers.values()])) items.push(["containers", name, batch]);
    for (const batch of batches([...namespace.images.values()])) items.push(["images", name, batch]);
    for (const batch of batches([...namespace.content.values()])) items.push(["content", name, batch]);
    for (const records of namespace.snapshots.values()) {
      for (const batch of batches([...records.values()])) items.push(["snapshots", name, batch]);
    }
    for (const batch of batches([...namespace.leases.values()].map(serializeLease))) items.push(["leases", name, batch]);
  }
  for (const batch of batches([...image.subjectSeqs])) items.push(["subjects", batch]);
  const requests = [...image.requests].map(([id, outcome]): [string, number, string?, string?] =>
    outcome.rejected ? [id, outcome.seq, outcome.rejected.kind, outcome.rejected.message] : [id, outcome.seq],
  );
  for (const batch of batches(requests)) items.push(["requests", batch]);
  const header: SnapshotHeader = {
    kind: SNAPSHOT_KIND,
    format: SNAPSHOT_FORMAT,
    seq: image.seq,
    lastEventTime: image.lastEventTime,
    writtenAt: new Date().toISOString(),
  };
  return { header, items };
}

/** Encode captured items as a stream of chunks, yielding the event loop between chunks. */
export function encodeSnapshot(header: SnapshotHeader, items: Item[]): ReadableStream<Uint8Array> {
  let index = -1;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const parts: Uint8Array[] = [];
      let size = 0;
      while (size < CHUNK_BYTES && index <= items.length) {
        const value = index === -1 ? header : index === items.length ? (["end", items.length] as Item) : items[index]!;
        const part = packValue(value);
        parts.push(part);
        size += part.length;
        index++;
      }
      if (parts.length > 0) controller.enqueue(Buffer.concat(parts));
      if (index > items.length) controller.close();
      await new Promise((resolve) => setImmediate(resolve));
    },
  });
}

/** Write a snapshot of the view's current position; returns its header. */
export async function writeSnapshot(store: ObjectStore, projection: Projection): Promise<SnapshotHeader> {
  const { header, items } = captureItems(projection);
  await store.put(
    {
      name: SNAPSHOT_OBJECT,
      description: `ctrmeta view at log sequence ${header.seq}`,
      metadata: { format: String(header.format), seq: String(header.seq) },
    },
    encodeSnapshot(header, items),
  );
  return header;
}

export class SnapshotFormatError extends Error {}

const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false });

function toPlain(value: unknown): unknown {
  if (value instanceof Map) {
    const out = emptyMap<unknown>();
    for (const [key, inner] of value) out[String(key)] = toPlain(inner);
    return out;
  }
  if (Array.isArray(value)) return value.map(toPlain);
  return value;
}

/**
 * Builder of a view image from a snapshot's values, fed one value at a time as
 * they are decoded. It throws SnapshotFormatError for another kind or format,
 * and for a snapshot without its `end` item.
 */
class SnapshotReader {
  private header: SnapshotHeader | undefined;
  private items = 0;
  private ended = false;
  private readonly state: MetadataState = emptyState();
  private readonly subjectSeqs = new Map<string, number>();
  private readonly requests = new Map<string, RequestOutcome>();

  add(raw: unknown): void {
    if (this.header === undefined) {
      const header = toPlain(raw) as Partial<SnapshotHeader> | undefined;
      if (header?.kind !== SNAPSHOT_KIND) throw new SnapshotFormatError("the object is not a ctrmeta view snapshot");
      if (header.format !== SNAPSHOT_FORMAT) {
        throw new SnapshotFormatError(`snapshot format ${String(header.format)}, this version reads format ${SNAPSHOT_FORMAT}`);
      }
      this.header = header as SnapshotHeader;
      return;
    }
    if (this.ended) throw new SnapshotFormatError("the snapshot has values after its end item");
    const item = toPlain(raw) as Item;
    if (item[0] === "end") {
      if (item[1] !== this.items) throw new SnapshotFormatError("the snapshot is truncated");
      this.ended = true;
      return;
    }
    this.items++;
    this.apply(item);
  }

  finish(): ProjectionImage {
    if (this.header === undefined) throw new SnapshotFormatError("the object is not a ctrmeta view snapshot");
    if (!this.ended) throw new SnapshotFormatError("the snapshot is truncated");
    const { header, state, subjectSeqs, requests } = this;
    return { state, seq: header.seq, lastEventTime: header.lastEventTime ?? "", subjectSeqs, requests };
  }

  private apply(item: Exclude<Item, ["end", number]>): void {
    const state = this.state;
    switch (item[0]) {
      case "ns": {
        const namespace = newNamespaceState(item[1]);
        namespace.labels = item[2];
        namespace.hasContainerBucket = item[3];
        namespace.lastWriteSeq = item[4];
        // The snapshot does not keep the write journal: a collection whose view is
        // older than the last write marks the whole namespace.
        namespace.writes.complete = item[4];
        state.namespaces.set(item[1], namespace);
        break;
      }
      case "containers":
        for (const record of item[2]) state.namespaces.get(item[1])!.containers.set(record.id, record);
        break;
      case "images":
        for (const record of item[2]) state.namespaces.get(item[1])!.images.set(record.name, record);
        break;
      case "content":
        for (const record of item[2]) state.namespaces.get(item[1])!.content.set(record.digest, record);
        break;
      case "snapshots":
        for (const record of item[2]) restoreSnapshot(state, item[1], record);
        break;
      case "leases":
        for (const record of item[2]) state.namespaces.get(item[1])!.leases.set(record.id, deserializeLease(record));
        break;
      case "subjects":
        for (const [subject, seq] of item[1]) this.subjectSeqs.set(subject, seq);
        break;
      case "requests":
        for (const [id, seq, kind, message] of item[1]) {
          this.requests.set(id, kind === undefined ? { seq } : { seq, rejected: errorFromReply(kind, message ?? "") });
        }
        break;
    }
  }
}

/** Decode a whole snapshot. Throws SnapshotFormatError for another kind or format. */
export function decodeSnapshot(bytes: Uint8Array): ProjectionImage {
  const reader = new SnapshotReader();
  unpackr.unpackMultiple(asBuffer(bytes), (value: unknown) => {
    reader.add(value);
  });
  return reader.finish();
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Bytes gathered from the object store before they are decoded. Each decode ends
 * in a value cut by the window's end, and that value is decoded again with the
 * next window. A window much larger than an item (about 1.7 MB for 500 containers
 * with 3 KB specs) keeps that repeated work small. A window without one whole
 * value doubles the next, so an item of any size costs a bounded number of attempts.
 */
const READ_WINDOW_BYTES = 8 * 1024 * 1024;

/**
 * Decode a snapshot from its chunks as they arrive, instead of gathering the
 * whole object first. This saves one copy of the bytes, and records are built
 * while the rest of the object is still arriving.
 */
export async function decodeSnapshotStream(chunks: AsyncIterable<Uint8Array>): Promise<ProjectionImage> {
  const reader = new SnapshotReader();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let windowBytes = READ_WINDOW_BYTES;
  const decodeWindow = (last: boolean) => {
    const window = asBuffer(pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes));
    pending = [];
    pendingBytes = 0;
    let consumed = 0;
    try {
      unpackr.unpackMultiple(window, (value: unknown, _start?: number, end?: number) => {
        reader.add(value);
        consumed = end!;
      });
    } catch (error) {
      if ((error as { incomplete?: boolean }).incomplete !== true) throw error;
      // The window ends inside a value. Its bytes are kept for the next window,
      // unless this was the last one.
      if (last) throw new SnapshotFormatError("the snapshot is truncated");
    }
    if (consumed < window.length) {
      pending.push(window.subarray(consumed));
      pendingBytes = window.length - consumed;
    }
    windowBytes = consumed === 0 ? windowBytes * 2 : READ_WINDOW_BYTES;
  };
  for await (const chunk of chunks) {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= windowBytes) decodeWindow(false);
  }
  if (pendingBytes > 0) decodeWindow(true);
  return reader.finish();
}

function restoreSnapshot(state: MetadataState, namespaceName: string, snapshot: Snapshot): void {
  const namespace = state.namespaces.get(namespaceName)!;
  let records = namespace.snapshots.get(snapshot.snapshotter);
  if (!records) namespace.snapshots.set(snapshot.snapshotter, (records = new Map()));
  records.set(snapshot.name, snapshot);
  if (snapshot.parent === "") return;
  // The child index is derived data: rebuild it from the parent links.
  let byParent = namespace.snapshotChildren.get(snapshot.snapshotter);
  if (!byParent) namespace.snapshotChildren.set(snapshot.snapshotter, (byParent = new Map()));
  let children = byParent.get(snapshot.parent);
  if (!children) byParent.set(snapshot.parent, (children = new Set()));
  children.add(snapshot.name);
}

/** Read the latest snapshot, or undefined when there is none. */
export async function readSnapshot(store: ObjectStore): Promise<ProjectionImage | undefined> {
  const object = await store.get(SNAPSHOT_OBJECT);
  if (!object) return undefined;
  // A digest that does not match ends the stream with an error, which decoding
  // rethrows. A failed read also rejects `error`.
  const [image] = await Promise.all([decodeSnapshotStream(object.data), object.error]);
  return image;
}
