/**
 * Garbage collection across instances: every instance campaigns for leadership;
 * the leader runs the scheduler and the collector and answers the internal GC
 * subjects; every instance forwards `collect` and `status` requests there, so a
 * synchronous delete works on whichever instance received it.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { Msg, NatsConnection, Subscription } from "@nats-io/nats-core";
import type { GcAccess } from "../api/context.js";
import type { Body } from "../api/wire.js";
import type { CommandHandler } from "../commands/handler.js";
import { errorFromReply, MetadataError, Unavailable } from "../domain/errors.js";
import type { Clock } from "../domain/time.js";
import type { Layout } from "../nats/subjects.js";
import type { Projection } from "../projections/projection.js";
import { LeaderElection } from "./leader.js";
import { GcRunner, type GcRunnerLog } from "./runner.js";
import type { SchedulerConfig } from "./scheduler.js";

export interface GcCoordinatorDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  kv: KV;
  layout: Layout;
  projection: Projection;
  commands: CommandHandler;
  clock: Clock;
  log: GcRunnerLog & { warn(fields: Record<string, unknown>, message: string): void };
  config: Partial<SchedulerConfig>;
  /** Name of this instance in the election. */
  candidate: string;
  renewMs?: number;
}

/** How long a forwarded request waits for a leader to exist and answer. */
const LEADER_WAIT_MS = 20_000;
const COLLECT_TIMEOUT_MS = 120_000;

export class GcCoordinator implements GcAccess {
  private runner: GcRunner | undefined;
  private subscriptions: Subscription[] = [];
  private readonly election: LeaderElection;
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly deps: GcCoordinatorDeps) {
    this.election = new LeaderElection(deps.kv, "gc", deps.candidate, { renewMs: deps.renewMs ?? 2000 }, deps.log, (leader) => {
      this.transition = this.transition.then(() => (leader ? this.lead() : this.follow()));
    });
  }

  get isLeader(): boolean {
    return this.election.isLeader;
  }

  start(): void {
    this.election.start();
  }

  private async lead(): Promise<void> {
    const { deps } = this;
    const runner = new GcRunner({
      js: deps.js,
      logStream: deps.layout.logStream,
      consumerName: `${deps.layout.prefix}-gc`,
      projection: deps.projection,
      commands: deps.commands,
      clock: deps.clock,
      log: deps.log,
      config: deps.config,
    });
    await runner.start();
    this.runner = runner;
    this.subscriptions = [
      deps.nc.subscribe(deps.layout.internalGcSubject("collect"), {
        callback: (_error, msg) => void this.answer(msg, async () => ({ stats: await runner.trigger() })),
      }),
      deps.nc.subscribe(deps.layout.internalGcSubject("status"), {
        callback: (_error, msg) => void this.answer(msg, async () => ({ status: { ...runner.status(), leader: deps.candidate } })),
      }),
    ];
  }

  private async follow(): Promise<void> {
    for (const subscription of this.subscriptions.splice(0)) subscription.unsubscribe();
    const runner = this.runner;
    this.runner = undefined;
    await runner?.stop();
  }

  private async answer(msg: Msg, action: () => Promise<Body>): Promise<void> {
    if (!this.deps.layout.isSafeReply(msg.reply)) return;
    let reply: Body;
    try {
      reply = await action();
    } catch (error) {
      const failure = error instanceof MetadataError ? error : new Unavailable((error as Error).message);
      reply = { error: { kind: failure.kind, message: failure.message } };
    }
    msg.respond(new TextEncoder().encode(JSON.stringify(reply)));
  }

  /** Send a request to the leader, waiting for one to be elected if needed. */
  private async ask(method: "collect" | "status", timeoutMs: number): Promise<Body> {
    const deadline = Date.now() + LEADER_WAIT_MS;
    for (;;) {
      try {
        const msg = await this.deps.nc.request(this.deps.layout.internalGcSubject(method), new Uint8Array(), { timeout: timeoutMs });
        const reply = JSON.parse(new TextDecoder().decode(msg.data)) as Body & { error?: { kind: string; message: string } };
        if (reply.error) throw errorFromReply(reply.error.kind, reply.error.message);
        return reply;
      } catch (error) {
        if (error instanceof MetadataError) throw error;
        // No responders: no leader yet, or one is taking over.
        if (Date.now() >= deadline) {
          throw new Unavailable(`no garbage collector answered on ${method}: ${(error as Error).message}`, { cause: error });
        }
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
  }

  async collect(): Promise<Body> {
    // The leader collects itself, without a round trip through NATS.
    const runner = this.runner;
    if (runner) return (await runner.trigger()) as unknown as Body;
    return (await this.ask("collect", COLLECT_TIMEOUT_MS)).stats as Body;
  }

  async status(): Promise<Body> {
    return (await this.ask("status", 5000)).status as Body;
  }

  /** Leave the election (releasing leadership at once) and stop the runner. */
  async stop(): Promise<void> {
    await this.election.stop();
    await this.transition;
    await this.follow();
  }
}
