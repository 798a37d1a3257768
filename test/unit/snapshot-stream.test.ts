/**
 * Decoding a view snapshot from its chunks as they arrive gives the same view as
 * decoding the whole object at once, wherever the chunks are cut. A truncated
 * or foreign object is rejected with SnapshotFormatError.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { containerRecord, contentRecord } from "../../bench/lib/log-writer.js";
import { newNamespaceState, emptyState } from "../../src/domain/state.js";
import { packValue } from "../../src/events/codec.js";
import { Projection } from "../../src/projections/projection.js";
import {
  captureItems,
  decodeSnapshot,
  decodeSnapshotStream,
  encodeSnapshot,
  SNAPSHOT_FORMAT,
  SNAPSHOT_KIND,
  SnapshotFormatError,
} from "../../src/projections/snapshot.js";

/**
 * Encode the snapshot of a view with `containers` containers and as many content
 * records. Each spec is `specBytes` long when given.
 */
async function snapshotBytes(containers: number, specBytes?: number): Promise<Buffer> {
  const state = emptyState();
  const namespace = newNamespaceState("default");
  state.namespaces.set("default", namespace);
  for (let index = 0; index < containers; index++) {
    const container = containerRecord(`c-${index}`, index);
    if (specBytes !== undefined) container.spec = { typeUrl: container.spec!.typeUrl, value: new Uint8Array(specBytes).fill(index % 251) };
    namespace.containers.set(container.id, container);
    const content = contentRecord(index);
    namespace.content.set(content.digest, content);
  }
  const projection = new Projection();
  projection.restore({ state, seq: containers * 2, lastEventTime: "2026-12-05T00:00:00Z", subjectSeqs: new Map([["p.log.ctr.default.c-0", 1]]), requests: new Map([["r-1", { seq: 1 }]]) });
  const { header, items } = captureItems(projection);
  const parts: Uint8Array[] = [];
  for await (const part of encodeSnapshot(header, items)) parts.push(part);
  return Buffer.concat(parts);
}

/** Cut `bytes` into chunks of pseudo-random sizes from 1 to `maxChunk`. */
function* chunksOf(bytes: Uint8Array, maxChunk: number, seed: number): Generator<Uint8Array> {
  let state = seed;
  for (let offset = 0; offset < bytes.length; ) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const size = 1 + (state % maxChunk);
    yield bytes.subarray(offset, offset + size);
    offset += size;
  }
}

async function* asAsync(chunks: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

test("chunked read equals whole read", async () => {
  // 3000 containers with 3 KB specs make a snapshot larger than one read window (8 MB).
  const bytes = await snapshotBytes(3000);
  assert.ok(bytes.length > 8 * 1024 * 1024, `snapshot of ${bytes.length} bytes`);
  const whole = decodeSnapshot(bytes);
  assert.equal(whole.state.namespaces.get("default")!.containers.size, 3000);
  for (const [maxChunk, seed] of [
    [128 * 1024, 1],
    [1_000_000, 2],
    [9 * 1024 * 1024, 3],
  ] as const) {
    const streamed = await decodeSnapshotStream(asAsync(chunksOf(bytes, maxChunk, seed)));
    assert.deepEqual(streamed, whole, `chunks up to ${maxChunk} bytes`);
  }
});

test("item larger than a window", async () => {
  // 500 containers of 64 KB each make one item of about 32 MB: four windows of 8 MB.
  const bytes = await snapshotBytes(500, 64 * 1024);
  const streamed = await decodeSnapshotStream(asAsync(chunksOf(bytes, 128 * 1024, 6)));
  assert.deepEqual(streamed, decodeSnapshot(bytes));
  assert.equal(streamed.state.namespaces.get("default")!.containers.get("c-499")!.spec!.value.length, 64 * 1024);
});

test("tiny chunks equal whole read", async () => {
  const bytes = await snapshotBytes(20);
  const streamed = await decodeSnapshotStream(asAsync(chunksOf(bytes, 7, 4)));
  assert.deepEqual(streamed, decodeSnapshot(bytes));
});

test("truncated snapshot rejected", async () => {
  const bytes = await snapshotBytes(2000);
  // Cut inside an item, and right after the last item (before the end item).
  for (const length of [bytes.length - 1, Math.floor(bytes.length / 2), bytes.length - packValue(["end", 0]).length]) {
    await assert.rejects(decodeSnapshotStream(asAsync(chunksOf(bytes.subarray(0, length), 200_000, 5))), SnapshotFormatError, `cut at ${length}`);
  }
});

test("foreign object rejected", async () => {
  const other = Buffer.concat([packValue({ kind: SNAPSHOT_KIND, format: SNAPSHOT_FORMAT + 1, seq: 1 }), packValue(["end", 0])]);
  await assert.rejects(decodeSnapshotStream(asAsync([other])), /snapshot format 2, this version reads format 1/);
  const foreign = Buffer.from("not a snapshot at all");
  await assert.rejects(decodeSnapshotStream(asAsync([foreign])), SnapshotFormatError);
});
