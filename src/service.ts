/**
 * One running ctrmeta instance: it connects to NATS, applies the stream definitions,
 * rebuilds its view from the log, then serves the API and publishes notifications.
 *
 * Example:
 *   const instance = await Instance.start({ servers: "nats://127.0.0.1:4222" });
 *   ...
 *   await instance.close();
 */
import { readFileSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { ObjectStore } from "@nats-io/obj";
import { pino, type Logger } from "pino";
import { historyMethods } from "./api/history.js";
import { RequestMetrics } from "./api/metrics.js";
import { statusMethods } from "./api/status.js";
import { startMetricsServer, type MetricsServer } from "./metrics-http.js";
import { Status } from "./status.js";
import { ALL_METHODS, startApiService, type ApiService } from "./api/service.js";
import { CommandHandler } from "./commands/handler.js";
import { SystemClock, type Clock } from "./domain/time.js";
import { Notifier } from "./events/notifier.js";
import { GcCoordinator } from "./gc/coordinator.js";
import type { SchedulerConfig } from "./gc/scheduler.js";
import { natsAuthConnectOptions, type NatsAuthOptions } from "./nats/auth.js";
import { EventStore } from "./nats/event-store.js";
import {
  applyBucket,
  applyConsumer,
  applyObjectStore,
  applyStreams,
  loadDefinition,
  type BucketDefinition,
  type ConsumerDefinition,
  type ObjectStoreDefinition,
} from "./nats/streams.js";
import { AsOfViews } from "./projections/as-of.js";
import { readSnapshot, SnapshotFormatError } from "./projections/snapshot.js";
import { SnapshotWriter } from "./projections/snapshot-writer.js";
import { Layout } from "./nats/subjects.js";
import { Projection } from "./projections/projection.js";
import { Projector } from "./projections/projector.js";
import { startGrpcEndpoint } from "./grpc/endpoint.js";
import type { GrpcServer } from "./grpc/server.js";

export const DEFAULT_SNAPSHOTTERS = ["overlayfs", "native"];

/** `user`, `pass`, `authenticator` and `inboxPrefix` apply to both of the instance's NATS connections. */
export interface InstanceOptions extends NatsAuthOptions {
  /** NATS server URL(s), comma-separated. */
  servers: string;
  prefix?: string;
  /** Stream replicas: 1 on one node, 3 on a cluster. */
  replicas?: number;
  /** Snapshotter names accepted by the snapshot service. */
  snapshotters?: string[];
  logger?: Logger;
  clock?: Clock;
  /** Name of this instance in logs and status. */
  name?: string;
  /** Publish notifications to the topics stream (one instance per log must). */
  notify?: boolean;
  /**
   * Garbage collection scheduler settings; `false` keeps this instance out of the
   * election, so it never collects but still forwards requests to the collector.
   */
  gc?: Partial<SchedulerConfig> | false;
  /** Write a view snapshot after this many events (on the elected instance); 0 never. Default 100,000. */
  snapshotEvery?: number;
  /** Start from the latest view snapshot when there is one. Default true. */
  useSnapshot?: boolean;
  /** Serve Prometheus text at http://<metricsAddress>:<metricsPort>/metrics; none when undefined. */
  metricsPort?: number;
  /** Address of the metrics endpoint; 127.0.0.1 by default. */
  metricsAddress?: string;
  /** Also serve containerd's gRPC API on this unix socket (`PATH` or `unix://PATH`). */
  grpcAddress?: string;
}

/** Errors a JetStream cluster gives while it is still electing leaders or placing replicas. */
const TRANSIENT = /timeout|no suitable peers|insufficient resources|not (enabled|available)|no responders|leader|temporarily/i;

/**
 * Run a start-up step, retrying for up to a minute while the cluster settles: a
 * fresh or restarted cluster answers JetStream requests with timeouts and "no
 * suitable peers" for a few seconds after its servers report ready.
 */
async function whileStarting<T>(log: Logger, step: string, action: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await action();
    } catch (error) {
      if (!TRANSIENT.test((error as Error).message) || Date.now() > deadline) throw error;
      log.warn({ err: error, step, attempt }, "jetstream not ready, retrying");
      await new Promise((resolve) => setTimeout(resolve, Math.min(2000, 250 * attempt)));
    }
  }
}

/**
 * Load the latest view snapshot into an empty view, unless it is ahead of the log, or
 * beyond `notifiedThrough`: the view must then apply the events after that
 * sequence itself, so that their notifications are published.
 */
async function restoreFromSnapshot(store: ObjectStore, projection: Projection, lastSeq: number, log: Logger, notifiedThrough?: number): Promise<void> {
  const started = performance.now();
  try {
    const image = await readSnapshot(store);
    if (!image) return;
    if (image.seq > lastSeq) {
      log.warn({ snapshotSeq: image.seq, lastSeq }, "ignoring view snapshot: it is ahead of the log (was the stream recreated?)");
      return;
    }
    if (notifiedThrough !== undefined && image.seq > notifiedThrough) {
      log.warn(
        { snapshotSeq: image.seq, notifiedThrough },
        "ignoring view snapshot: notifications were published only up to an earlier event; rebuilding from the log publishes the rest",
      );
      return;
    }
    projection.restore(image);
    log.info({ seq: image.seq, ms: Math.round(performance.now() - started) }, "view restored from snapshot");
  } catch (error) {
    if (error instanceof SnapshotFormatError) log.warn({ reason: error.message }, "ignoring view snapshot, rebuilding from the log");
    else log.warn({ err: error }, "reading the view snapshot failed, rebuilding from the log");
  }
}

export function packageVersion(): string {
  const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
  return (JSON.parse(text) as { version: string }).version;
}

/**
 * Connect with bounded retries: a fresh cluster refuses JetStream until it elects
 * a leader. `noAsyncTraces` stops nats.js from building an Error (with a stack) for
 * every request and publish in advance, which costs more CPU than the rest of a
 * command's client-side work.
 */
async function connectJetStream(servers: string, auth: NatsAuthOptions, log: Logger): Promise<{ nc: NatsConnection; jsm: JetStreamManager }> {
  const nc = await connect({ servers: servers.split(","), name: "ctrmeta", maxReconnectAttempts: -1, noAsyncTraces: true, ...natsAuthConnectOptions(auth) });
  for (let attempt = 1; ; attempt++) {
    try {
      const jsm = await jetstreamManager(nc, { timeout: 5000 });
      return { nc, jsm };
    } catch (error) {
      if (attempt >= 12) {
        await nc.close();
        throw new Error(`JetStream is not available at ${servers}: ${(error as Error).message}`, { cause: error });
      }
      log.warn({ attempt, err: error }, "jetstream not ready, retrying");
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

export class Instance {
  private closing: Promise<void> | undefined;

  private constructor(
    readonly nc: NatsConnection,
    readonly js: JetStreamClient,
    readonly jsm: JetStreamManager,
    readonly layout: Layout,
    readonly projection: Projection,
    readonly commands: CommandHandler,
    readonly log: Logger,
    private readonly projector: Projector,
    private readonly notifier: Notifier | undefined,
    private readonly api: ApiService,
    readonly gc: GcCoordinator,
    private readonly notifyNc: NatsConnection | undefined,
    readonly snapshots: SnapshotWriter,
    private readonly status: Status,
    /** The Prometheus endpoint, when one was asked for. */
    readonly metricsServer: MetricsServer | undefined,
  ) {
    this.diverged = new Promise((resolve) => {
      projection.onDiverged((seq, subject) => resolve({ seq, subject }));
    });
  }

  /** containerd's gRPC API, when a socket was given. */
  grpc: GrpcServer | undefined;

  /**
   * Promise of the first message that shows the log changed under this view (see
   * Projection.divergences). The view is wrong from that sequence on.
   */
  readonly diverged: Promise<{ seq: number; subject: string }>;

  static async start(options: InstanceOptions): Promise<Instance> {
    const log = options.logger ?? pino({ name: options.name ?? "ctrmeta" });
    const layout = new Layout(options.prefix);
    const { nc, jsm } = await connectJetStream(options.servers, options, log);
    let notifyNc: NatsConnection | undefined;
    let notifier: Notifier | undefined;
    try {
      await whileStarting(log, "creating streams", () => applyStreams(jsm, layout, options.replicas === undefined ? {} : { replicas: options.replicas }));
      const js = jetstream(nc);
      const projection = new Projection();
      const snapshots = await whileStarting(log, "creating the snapshot store", () =>
        applyObjectStore(nc, loadDefinition<ObjectStoreDefinition>("projections.json", layout), options.replicas),
      );
      // Notifications get their own connection: a burst of them (a large sweep
      // publishes one per removal) must not queue in front of command replies.
      let publishedThrough = 0;
      if (options.notify !== false) {
        notifyNc = await connect({
          servers: options.servers.split(","),
          name: "ctrmeta-notifier",
          maxReconnectAttempts: -1,
          noAsyncTraces: true,
          ...natsAuthConnectOptions(options),
        });
        notifier = new Notifier(jetstream(notifyNc), jsm, layout, log);
        const starting = notifier;
        publishedThrough = (await whileStarting(log, "reading the notifications' position", () => starting.resume())).seq;
      }
      // When the topics stream has notifications, the ones for the log's events
      // after its last are published as the view applies those events. So the view
      // must not start from a snapshot beyond that point. An empty topics stream
      // (new, or purged) is not filled from the log's history: notifications start
      // with the events after the view caught up.
      const catchUpNotifications = notifier !== undefined && publishedThrough > 0;
      if (options.useSnapshot !== false) {
        const lastSeq = await whileStarting(log, "reading the log's position", async () => (await jsm.streams.info(layout.logStream)).state.last_seq);
        await restoreFromSnapshot(snapshots, projection, lastSeq, log, catchUpNotifications ? publishedThrough : undefined);
      }
      if (catchUpNotifications) notifier!.follow(projection);
      const projector = new Projector(js, jsm, layout, projection, log);
      const started = Date.now();
      await whileStarting(log, "starting the view", () => projector.start());
      log.info({ seq: projection.seq, ms: Date.now() - started }, "view rebuilt from the log");
      if (notifier && !catchUpNotifications) notifier.follow(projection);

      const store = new EventStore(js, jsm, layout);
      const clock = options.clock ?? new SystemClock();
      const commands = new CommandHandler(projection, store, layout, clock, { logger: log });
      const snapshotters = new Set(options.snapshotters ?? DEFAULT_SNAPSHOTTERS);

      // Every instance forwards collection requests to the elected collector; an
      // instance started with `gc: false` never campaigns to be it.
      await whileStarting(log, "creating the gc consumer", () => applyConsumer(jsm, loadDefinition<ConsumerDefinition>("gc-consumer.json", layout)));
      const kv = await whileStarting(log, "creating the election bucket", () =>
        applyBucket(nc, jsm, loadDefinition<BucketDefinition>("election.json", layout), options.replicas),
      );
      const candidate = `${options.name ?? "ctrmeta"}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
      const gc = new GcCoordinator({ nc, js, kv, layout, projection, commands, clock, log, config: options.gc || {}, candidate });
      if (options.gc !== false) gc.start();

      const snapshotWriter = new SnapshotWriter(snapshots, projection, options.snapshotEvery ?? 100_000, () => gc.isLeader, log);
      snapshotWriter.start();

      const asOf = new AsOfViews(js, jsm, layout, snapshots);
      const metrics = new RequestMetrics();
      const info = { name: options.name ?? candidate, version: packageVersion(), startedAt: new Date().toISOString(), isLeader: () => gc.isLeader };
      const status = new Status({ nc, jsm, layout, projection, notifier, metrics, gc, info });
      status.start();
      const metricsServer = options.metricsPort === undefined ? undefined : await startMetricsServer(status, options.metricsPort, options.metricsAddress ?? "127.0.0.1");

      const methods = { ...ALL_METHODS, ...historyMethods(js, layout), ...statusMethods };
      const deps = { commands, projection, snapshotters, clock, gc, asOf, metrics, status };
      const api = await startApiService(nc, layout, deps, log, { version: info.version }, methods);
      const instance = new Instance(nc, js, jsm, layout, projection, commands, log, projector, notifier, api, gc, notifyNc, snapshotWriter, status, metricsServer);
      if (options.grpcAddress !== undefined) {
        try {
          instance.grpc = await startGrpcEndpoint({ address: options.grpcAddress, methods: ALL_METHODS, deps, nc, jsm, layout, version: info.version, log });
        } catch (error) {
          // Stop the collector, timers and consumers too, so that a failed start lets the process exit.
          await instance.close();
          throw error;
        }
      }
      log.info({ servers: options.servers, prefix: layout.prefix }, "serving");
      return instance;
    } catch (error) {
      // A notifier that follows the view would retry its publishes forever on the closed connection.
      await notifier?.stop(0);
      await notifyNc?.close().catch(() => undefined);
      await nc.close().catch(() => undefined);
      throw error;
    }
  }

  /** Wait until every notification derived so far is published. */
  async notificationsIdle(): Promise<void> {
    await this.notifier?.idle();
  }

  /**
   * Stop serving, then stop consuming and publishing, then drain the connection.
   * Idempotent; a failing step is logged and the next one still runs.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const steps: Array<[string, () => Promise<unknown>]> = [
        ["grpc", async () => this.grpc?.stop()],
        ["api", () => this.api.stop()],
        ["status", async () => this.status.stop()],
        ["metrics", async () => this.metricsServer?.close()],
        ["gc", () => this.gc.stop()],
        ["snapshots", () => this.snapshots.stop()],
        ["notifier", async () => this.notifier?.stop()],
        ["projector", () => this.projector.stop()],
        ["notifier connection", async () => this.notifyNc?.drain()],
        ["connection", () => this.nc.drain()],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (error) {
          this.log.error({ err: error, step: name }, "shutdown step failed");
        }
      }
      this.log.info("stopped");
    })();
    return this.closing;
  }
}

/**
 * Run an instance until `stop` resolves, then close it. When the log changes under
 * the instance's view, close the instance and start a new one, which rebuilds its
 * view from the log without the view snapshot, since the snapshot may have been
 * written from a wrong view. `started` is called with each instance.
 */
export async function runInstance(options: InstanceOptions, stop: Promise<unknown>, started: (instance: Instance) => void = () => undefined): Promise<void> {
  const stopped = stop.then(() => undefined);
  let instance = await Instance.start(options);
  for (;;) {
    started(instance);
    const diverged = await Promise.race([stopped, instance.diverged]);
    if (diverged === undefined) break;
    instance.log.error(
      { seq: diverged.seq, subject: diverged.subject },
      "the log changed under the view: starting the instance again to rebuild its view from the log",
    );
    await instance.snapshots.discard();
    await instance.close();
    instance = await Instance.start({ ...options, useSnapshot: false });
  }
  await instance.close();
}

