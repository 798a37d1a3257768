/**
 * Status of one instance and of the whole deployment: the log and topics streams,
 * their consumers, each instance's view position and lag, and the collector.
 * Every instance answers `P.internal.status` with its own part; the status service
 * gathers the answers that arrive within a short window.
 */
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection, Subscription } from "@nats-io/nats-core";
import type { GcAccess, StatusSource } from "./api/context.js";
import type { RequestMetrics } from "./api/metrics.js";
import type { Body } from "./api/wire.js";
import type { Notifier } from "./events/notifier.js";
import type { Layout } from "./nats/subjects.js";
import type { Projection } from "./projections/projection.js";

/** How long the status service waits for instances to answer, in ms. */
const GATHER_MS = 500;

export interface InstanceInfo {
  name: string;
  version: string;
  startedAt: string;
  isLeader: () => boolean;
}

export interface StatusDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  layout: Layout;
  projection: Projection;
  notifier: Notifier | undefined;
  metrics: RequestMetrics;
  gc: GcAccess;
  info: InstanceInfo;
}

function seconds(from: string, to: string): number {
  const start = Date.parse(from);
  const end = Date.parse(to);
  return Number.isNaN(start) || Number.isNaN(end) ? 0 : Math.max(0, (end - start) / 1000);
}

export class Status implements StatusSource {
  private subscription: Subscription | undefined;

  constructor(private readonly deps: StatusDeps) {}

  /** Answer status requests for this instance. */
  start(): void {
    this.subscription = this.deps.nc.subscribe(this.deps.layout.internalStatusSubject, {
      callback: (_error, msg) => {
        if (!this.deps.layout.isSafeReply(msg.reply)) return;
        void this.instance().then((body) => msg.respond(new TextEncoder().encode(JSON.stringify(body))));
      },
    });
  }

  stop(): void {
    this.subscription?.unsubscribe();
  }

  async instance(): Promise<Body> {
    const { projection, info, notifier, metrics } = this.deps;
    const log = (await this.deps.jsm.streams.info(this.deps.layout.logStream)).state;
    const lagEvents = Math.max(0, log.last_seq - projection.seq);
    return {
      name: info.name,
      version: info.version,
      startedAt: info.startedAt,
      leader: info.isLeader(),
      view: {
        seq: projection.seq,
        lastEventTime: projection.lastEventTime,
        lagEvents,
        lagSeconds: lagEvents === 0 ? 0 : seconds(projection.lastEventTime, log.last_ts),
        unreadableEvents: projection.undecodable,
        logDivergences: projection.divergences,
      },
      notifications: notifier ? { publishedThrough: notifier.position } : null,
      requests: metrics.snapshot(),
    };
  }

  async cluster(): Promise<Body> {
    const { jsm, layout, nc } = this.deps;
    const streams: Body = {};
    const consumers: Body[] = [];
    for (const name of [layout.logStream, layout.topicStream]) {
      const info = await jsm.streams.info(name);
      streams[name] = {
        messages: info.state.messages,
        bytes: info.state.bytes,
        firstSeq: info.state.first_seq,
        lastSeq: info.state.last_seq,
        lastTime: info.state.last_ts,
        replicas: info.config.num_replicas,
      };
      for await (const consumer of jsm.consumers.list(name)) {
        consumers.push({
          stream: name,
          name: consumer.name,
          durable: Boolean(consumer.config.durable_name),
          delivered: consumer.delivered.stream_seq,
          pending: consumer.num_pending,
          ackPending: consumer.num_ack_pending,
        });
      }
    }

    const instances: Body[] = [];
    const replies = await nc.requestMany(layout.internalStatusSubject, new Uint8Array(), { strategy: "timer", maxWait: GATHER_MS });
    for await (const reply of replies) instances.push(JSON.parse(new TextDecoder().decode(reply.data)) as Body);
    instances.sort((a, b) => String(a.name).localeCompare(String(b.name)));

    let gc: Body;
    try {
      gc = await this.deps.gc.status();
    } catch (error) {
      gc = { error: (error as Error).message };
    }
    return { streams, consumers, instances, gc };
  }
}

/** Prometheus text exposition of one instance's status. */
export function prometheusText(instance: Body): string {
  const lines: string[] = [];
  const name = JSON.stringify(String(instance.name));
  const gauge = (metric: string, help: string, value: number, labels = `instance=${name}`) => {
    lines.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} gauge`, `${metric}{${labels}} ${value}`);
  };
  const view = instance.view as { seq: number; lagEvents: number; lagSeconds: number; unreadableEvents: number; logDivergences: number };
  gauge("ctrmeta_view_seq", "Log sequence the view has applied.", view.seq);
  gauge("ctrmeta_view_lag_events", "Events in the log the view has not applied yet.", view.lagEvents);
  gauge("ctrmeta_view_lag_seconds", "Age of the newest applied event behind the log's newest one, in seconds.", view.lagSeconds);
  gauge("ctrmeta_view_unreadable_events", "Events the view skipped because it could not decode them.", view.unreadableEvents);
  gauge("ctrmeta_view_log_divergences", "Messages delivered again that do not match the event the view applied at their sequence.", view.logDivergences);
  gauge("ctrmeta_gc_leader", "1 when this instance runs garbage collection.", instance.leader ? 1 : 0);
  const notifications = instance.notifications as { publishedThrough: number } | null;
  if (notifications) gauge("ctrmeta_notifications_published_seq", "Log sequence up to which notifications are published.", notifications.publishedThrough);

  lines.push("# HELP ctrmeta_requests_total Requests handled, by method and outcome.", "# TYPE ctrmeta_requests_total counter");
  const requests = instance.requests as Record<string, { outcomes: Record<string, number>; seconds: number }>;
  for (const [method, counters] of Object.entries(requests)) {
    for (const [outcome, count] of Object.entries(counters.outcomes)) {
      lines.push(`ctrmeta_requests_total{instance=${name},method=${JSON.stringify(method)},outcome=${JSON.stringify(outcome)}} ${count}`);
    }
  }
  lines.push("# HELP ctrmeta_request_seconds_total Time spent handling requests, by method.", "# TYPE ctrmeta_request_seconds_total counter");
  for (const [method, counters] of Object.entries(requests)) {
    lines.push(`ctrmeta_request_seconds_total{instance=${name},method=${JSON.stringify(method)}} ${counters.seconds}`);
  }
  return `${lines.join("\n")}\n`;
}
