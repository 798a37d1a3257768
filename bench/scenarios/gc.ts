/**
 * Garbage collection against commands: the p99 of CreateContainer while a large
 * sweep runs against the p99 without one, and an image delete with `sync` (which
 * waits for a collection) against a plain delete.
 */
import { Client } from "../../src/client/client.js";
import { startTestServer } from "../../test/helpers/nats.js";
import { containerBody } from "../lib/fixture.js";
import { Host } from "../lib/host.js";
import { appendEvents, contentRecord, imageRecord } from "../lib/log-writer.js";
import { startLogStack } from "../lib/log-stack.js";
import { median, runLoad, summarize, timed, type LoadResult } from "../lib/measure.js";
import type { BenchOptions } from "../lib/options.js";
import { Report } from "../lib/report.js";
import { CONNECTIONS, instanceOverrides, NAMESPACE } from "../lib/rig.js";

/** Commands in flight while p99 is measured. */
const CONCURRENCY = 8;

/**
 * Wait until the instance has published the notifications of every event its view
 * applied, or its published position stayed the same for a second (the last events
 * may have none). Returns at once when notifications are off.
 */
async function notificationsPublished(client: Client): Promise<void> {
  let last = -1;
  let unchanged = 0;
  for (const deadline = Date.now() + 300_000; Date.now() < deadline; ) {
    const instance = await client.status.instance();
    const published = (instance.notifications as { publishedThrough: number } | null)?.publishedThrough;
    if (published === undefined || published >= (instance.view as { seq: number }).seq) return;
    unchanged = published === last ? unchanged + 1 : 0;
    if (unchanged >= 5) return;
    last = published;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error("the sweep's notifications were not published within 300 s");
}

export async function gcImpact(options: BenchOptions): Promise<Report> {
  const report = new Report("gc");
  const garbage = options.containers ?? (options.quick ? 20_000 : 200_000);
  const images = options.quick ? 20 : 60;
  const nats = await startTestServer();
  let host: Host | undefined;
  const clients: Client[] = [];
  try {
    // The log: `garbage` unreferenced blobs, and `images` images each holding one more blob.
    const stack = await startLogStack(nats);
    const blobs = garbage + images;
    await appendEvents(stack.js, stack.layout, NAMESPACE, blobs, (index) => ({ type: "content.committed", info: contentRecord(index) }));
    await appendEvents(stack.js, stack.layout, NAMESPACE, images, (index) => ({ type: "image.created", image: imageRecord(`bench/image-${index}`, garbage + index) }));
    await stack.close();
    console.log(`  log: ${blobs} blobs, ${garbage} of them unreferenced, and ${images} images`);

    // Collections run only when asked for: no start-up, mutation or deletion trigger.
    host = await Host.instance(nats.url, { gc: { startupDelayMs: 0, mutationThreshold: 0, deletionThreshold: Number.MAX_SAFE_INTEGER }, ...instanceOverrides() });
    for (let index = 0; index < CONNECTIONS; index++) clients.push(await Client.connect({ servers: nats.url, namespace: NAMESPACE }));
    const create = (prefix: string) => (index: number) => clients[index % clients.length]!.containers.create({ ...containerBody(`${prefix}-${index}`, index) });

    const count = options.count ?? (options.quick ? 1500 : 4000);
    const quiet: LoadResult = await runLoad({ concurrency: CONCURRENCY, count, warmup: 200, operation: create("quiet") });
    console.log(`  without a collection: ${quiet.rate.toFixed(0)} cmd/s, p50 ${quiet.p50.toFixed(2)} ms, p99 ${quiet.p99.toFixed(2)} ms`);

    // Measure the commands that start while the sweep runs.
    let sweeping = true;
    const latencies: number[] = [];
    const sweep = timed(() => clients[0]!.gc.collect()).finally(() => {
      sweeping = false;
    });
    let next = 0;
    const worker = async () => {
      while (sweeping) {
        const started = performance.now();
        await create("sweep")(next++);
        latencies.push(performance.now() - started);
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const { ms, value: stats } = await sweep;
    const during = summarize(latencies);
    const removed = (stats as { removed?: { content?: number } }).removed?.content ?? 0;
    console.log(`  during a sweep of ${removed} blobs (${ms.toFixed(0)} ms): ${during.count} commands, p50 ${during.p50.toFixed(2)} ms, p99 ${during.p99.toFixed(2)} ms`);
    report.compare({
      measure: `CreateContainer p99 during a sweep of ${removed} blobs (${CONCURRENCY} in flight)`,
      ctrmeta: during.p99,
      reference: "p99 without a collection",
      referenceValue: quiet.p99,
      target: 1.5,
      direction: "lower",
      unit: "ms",
    });

    // The sweep left a notification per removed blob to publish. Deletes measured
    // while that backlog drains would wait behind it, the plain ones included.
    const drained = await timed(() => notificationsPublished(clients[0]!));
    console.log(`  the sweep's notifications were published ${drained.ms.toFixed(0)} ms after it ended`);

    // Alternate synchronous and plain deletes; each synchronous one removes its image's blob.
    const syncMs: number[] = [];
    const plainMs: number[] = [];
    const collectionMs: number[] = [];
    const markMs: number[] = [];
    for (let index = 0; index < images; index++) {
      const sync = index % 2 === 0;
      const { ms: deleteMs, value: reply } = await timed(() => clients[0]!.images.delete(`bench/image-${index}`, sync));
      (sync ? syncMs : plainMs).push(deleteMs);
      const collection = (reply as { gc?: { durationMs?: number; markMs?: number } }).gc;
      if (sync && collection?.durationMs !== undefined) collectionMs.push(collection.durationMs);
      if (sync && collection?.markMs !== undefined) markMs.push(collection.markMs);
    }
    console.log(
      `  image delete: sync p50 ${median(syncMs).toFixed(2)} ms (its collection ${median(collectionMs).toFixed(2)} ms, of which mark ${median(markMs).toFixed(2)} ms), plain p50 ${median(plainMs).toFixed(2)} ms`,
    );
    report.compare({ measure: "DeleteImage with sync, p50", ctrmeta: median(syncMs), reference: "plain DeleteImage", referenceValue: median(plainMs), target: 3, direction: "lower", unit: "ms" });
  } finally {
    for (const client of clients) await client.close();
    await host?.stop();
    await nats.close();
  }
  return report;
}
