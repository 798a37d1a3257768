/**
 * Leader election on a JetStream KV bucket whose entries expire: the leader
 * creates a key and renews it before it expires; the others try to create it and
 * succeed once it has expired or been released. At most one instance renews a
 * given revision, so at most one is leader at a time, give or take one renewal
 * period around a failover.
 */
import type { KV } from "@nats-io/kv";

export interface ElectionLog {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
}

export interface ElectionOptions {
  /** How often the leader renews and the others retry, in ms; well below the bucket TTL. */
  renewMs: number;
}

export class LeaderElection {
  private revision = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: KV,
    private readonly key: string,
    private readonly candidate: string,
    private readonly options: ElectionOptions,
    private readonly log: ElectionLog,
    private readonly onChange: (leader: boolean) => void,
  ) {}

  get isLeader(): boolean {
    return this.revision > 0;
  }

  start(): void {
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.round().finally(() => this.schedule(this.options.renewMs));
    }, delay);
  }

  private async round(): Promise<void> {
    const data = new TextEncoder().encode(this.candidate);
    if (this.revision > 0) {
      try {
        this.revision = await this.kv.update(this.key, data, this.revision);
      } catch (error) {
        this.revision = 0;
        this.log.warn({ err: error, key: this.key }, "lost leadership");
        this.onChange(false);
      }
      return;
    }
    try {
      this.revision = await this.kv.create(this.key, data);
      this.log.info({ key: this.key, candidate: this.candidate }, "became leader");
      this.onChange(true);
    } catch {
      // Someone else holds the key; try again next round.
    }
  }

  /** Stop campaigning and release the key if held, so another instance takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.revision > 0) {
      const revision = this.revision;
      this.revision = 0;
      this.onChange(false);
      await this.kv.delete(this.key, { previousSeq: revision }).catch(() => undefined);
    }
  }
}
