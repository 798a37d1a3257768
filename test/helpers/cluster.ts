/**
 * A nats-server cluster with JetStream for tests: three nodes (by default) on free
 * 127.0.0.1 ports, each with its own store directory under one temporary
 * directory. Nodes are addressed by index from 0. `close()` stops every node this
 * helper started, by PID, and removes the directory; it never throws, so it can
 * always run in `after()`. When the test process exits without `close()`, an `exit`
 * hook SIGKILLs the nodes that still run and removes their directory.
 *
 * Example:
 *   const cluster = await startCluster();
 *   after(() => cluster.close());
 *   const instance = await startInstance(cluster.servers, { replicas: 3 });
 *   await cluster.kill(1);          // SIGKILL, as a crash would
 *   await cluster.restart(1);       // same ports and store directory
 *   await cluster.waitForMetaLeader();
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startNatsServer, type EmbeddedServer } from "../../src/nats/server.js";

export interface ClusterOptions {
  /** Number of nodes; 3 by default. */
  size?: number;
  /**
   * Text appended to every node's configuration file, such as an `include` of a
   * users file copied into the cluster directory with `files`.
   */
  extraConfig?: string;
  /** Files written into the cluster directory before the nodes start: name to content. */
  files?: Record<string, string>;
  /** Wait until JetStream has a meta leader before returning; true by default. */
  waitForLeader?: boolean;
  /** How long to wait for each node to start, and then for the meta leader, in ms; 20,000 by default. */
  timeoutMs?: number;
}

export interface ClusterNode {
  readonly index: number;
  /** `server_name` of the node, e.g. `n0`. */
  readonly name: string;
  readonly port: number;
  readonly clusterPort: number;
  /** Port of the HTTP monitoring endpoint (`/jsz`, `/healthz`, ...). */
  readonly monitorPort: number;
  /** Client URL, `nats://127.0.0.1:<port>`. */
  readonly url: string;
  /** Parent of the node's JetStream store directory (`<dataDir>/jetstream`). */
  readonly dataDir: string;
  readonly configFile: string;
  /** The node's log, appended to by every process of the node. */
  readonly logFile: string;
}

/** The JetStream meta group as one node's `/jsz` reports it. */
export interface MetaCluster {
  name?: string;
  leader?: string;
  cluster_size?: number;
}

export interface TestCluster {
  readonly nodes: readonly ClusterNode[];
  /** Client URL of each node, by index. */
  readonly urls: readonly string[];
  /** Every client URL, comma-separated: the `servers` option of Instance.start and Client.connect. */
  readonly servers: string;
  /** Directory with every node's configuration, store and the `files`. */
  readonly dir: string;
  /** PID of a node's process, or undefined while it is stopped. */
  pid(index: number): number | undefined;
  isRunning(index: number): boolean;
  /** SIGKILL one node and wait for it to exit. A stopped node is left as it is. */
  kill(index: number): Promise<void>;
  /** Stop one node with SIGTERM (SIGKILL after 5 s) and wait for it to exit. */
  stop(index: number): Promise<void>;
  /**
   * Start one node again with its ports and store directory, stopping it first
   * with SIGTERM if it runs. Resolves once the node is ready for clients, which
   * is before the cluster may have a meta leader again: call waitForMetaLeader()
   * when the test needs JetStream.
   */
  restart(index: number): Promise<void>;
  /** Stop every node with SIGTERM, start them all again and wait for a meta leader. */
  restartAll(): Promise<void>;
  /** Parsed JSON of a monitoring endpoint of a running node, e.g. `/jsz?streams=true`. */
  monitor(index: number, path: string): Promise<unknown>;
  /**
   * Wait until every running node reports the same meta leader and that leader is
   * a running node; returns its name. Throws after `timeoutMs` (default 20,000).
   */
  waitForMetaLeader(timeoutMs?: number): Promise<string>;
  /**
   * Wait until a node's `/healthz` returns 200: it has a meta leader and every
   * stream and consumer replica on it has caught up. Throws after `timeoutMs`
   * (default 20,000) with the last error the node reported.
   */
  waitForHealthy(index: number, timeoutMs?: number): Promise<void>;
  /** Stop every node by PID and remove the directory. Idempotent; never rejects. */
  close(): Promise<void>;
}

/** Maximum wait for a meta leader after every node restarted, in ms. */
const FULL_RESTART_ELECTION_MS = 60_000;

/** Every node started by this helper and still running, and every directory not yet removed, for the exit hook. */
const running = new Set<EmbeddedServer>();
const directories = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const server of running) {
      try {
        process.kill(server.pid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    for (const directory of directories) rmSync(directory, { recursive: true, force: true });
  });
}

/** `count` distinct free ports on 127.0.0.1. */
async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

function nodeConfig(node: ClusterNode, clusterName: string, routes: string[], extraConfig: string): string {
  return [
    `server_name: ${node.name}`,
    `http: 127.0.0.1:${node.monitorPort}`,
    "cluster {",
    `  name: ${clusterName}`,
    `  listen: 127.0.0.1:${node.clusterPort}`,
    `  routes: [${routes.map((route) => JSON.stringify(route)).join(", ")}]`,
    "}",
    extraConfig,
    "",
  ].join("\n");
}

const PORT_ATTEMPTS = 5;

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  installExitHook();
  const size = options.size ?? 3;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const dir = mkdtempSync(join(tmpdir(), "ctrmeta-cluster-"));
  directories.add(dir);
  for (const [name, content] of Object.entries(options.files ?? {})) writeFileSync(join(dir, name), content);

  // A port found free can be taken before the node binds it; then start over with new ports.
  for (let attempt = 1; ; attempt++) {
    const cluster = await createCluster(dir, size, options.extraConfig ?? "", timeoutMs);
    try {
      await cluster.startAll();
      if (options.waitForLeader !== false) await cluster.waitForMetaLeader(timeoutMs);
      return cluster;
    } catch (error) {
      await cluster.stopNodes();
      if (attempt >= PORT_ATTEMPTS || !/already in use/.test((error as Error).message)) {
        await cluster.close();
        throw error;
      }
      // The next attempt gets new ports, so it must not find this attempt's cluster state.
      for (const node of cluster.nodes) rmSync(node.dataDir, { recursive: true, force: true });
    }
  }
}

async function createCluster(dir: string, size: number, extraConfig: string, timeoutMs: number): Promise<ClusterImpl> {
  const ports = await freePorts(size * 3);
  const nodes: ClusterNode[] = [];
  for (let index = 0; index < size; index++) {
    const port = ports[index * 3]!;
    nodes.push({
      index,
      name: `n${index}`,
      port,
      clusterPort: ports[index * 3 + 1]!,
      monitorPort: ports[index * 3 + 2]!,
      url: `nats://127.0.0.1:${port}`,
      dataDir: join(dir, `n${index}`),
      configFile: join(dir, `n${index}.conf`),
      logFile: join(dir, `n${index}.log`),
    });
  }
  // A unique cluster name keeps nodes of other clusters from joining by mistake.
  const clusterName = `ctrmeta-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const routes = nodes.map((node) => `nats-route://127.0.0.1:${node.clusterPort}`);
  for (const node of nodes) writeFileSync(node.configFile, nodeConfig(node, clusterName, routes, extraConfig));
  return new ClusterImpl(dir, nodes, timeoutMs);
}

class ClusterImpl implements TestCluster {
  private readonly servers_: Array<EmbeddedServer | undefined>;
  private closing: Promise<void> | undefined;

  constructor(
    readonly dir: string,
    readonly nodes: readonly ClusterNode[],
    private readonly timeoutMs: number,
  ) {
    this.servers_ = nodes.map(() => undefined);
  }

  get urls(): string[] {
    return this.nodes.map((node) => node.url);
  }

  get servers(): string {
    return this.urls.join(",");
  }

  pid(index: number): number | undefined {
    return this.servers_[this.checkIndex(index)]?.pid;
  }

  isRunning(index: number): boolean {
    return this.servers_[this.checkIndex(index)] !== undefined;
  }

  /** Start every stopped node in parallel; rejects with the first failure once every start has settled. */
  async startAll(): Promise<void> {
    const results = await Promise.allSettled(this.nodes.map((node) => this.startNode(node.index)));
    const failed = results.find((result): result is PromiseRejectedResult => result.status === "rejected");
    if (failed) throw failed.reason;
  }

  private async startNode(index: number): Promise<void> {
    if (this.servers_[index]) return;
    const node = this.nodes[index]!;
    const server = await startNatsServer({
      port: node.port,
      dataDir: node.dataDir,
      extraArgs: ["-c", node.configFile],
      readyTimeoutMs: this.timeoutMs,
      logFile: node.logFile,
    });
    this.servers_[index] = server;
    running.add(server);
  }

  async kill(index: number): Promise<void> {
    const server = this.servers_[this.checkIndex(index)];
    if (!server) return;
    await server.kill();
    this.forget(index, server);
  }

  async stop(index: number): Promise<void> {
    const server = this.servers_[this.checkIndex(index)];
    if (!server) return;
    await server.stop();
    this.forget(index, server);
  }

  async restart(index: number): Promise<void> {
    await this.stop(index);
    await this.startNode(index);
  }

  async restartAll(): Promise<void> {
    await this.stopNodes();
    await this.startAll();
    // Every node starts at once and they elect a meta leader anew. That took 4 to
    // 10 s in 16 restarts here, but over 20 s in one of three runs of cluster.test.ts.
    await this.waitForMetaLeader(Math.max(this.timeoutMs, FULL_RESTART_ELECTION_MS));
  }

  async waitForHealthy(index: number, timeoutMs = this.timeoutMs): Promise<void> {
    const node = this.nodes[this.checkIndex(index)]!;
    const deadline = Date.now() + timeoutMs;
    let seen = "no answer";
    for (;;) {
      try {
        const response = await fetch(`http://127.0.0.1:${node.monitorPort}/healthz`, { signal: AbortSignal.timeout(2000) });
        if (response.ok) return;
        seen = `HTTP ${response.status}: ${(await response.text()).trim()}`;
      } catch (error) {
        seen = (error as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`node ${index} not healthy within ${timeoutMs} ms (${seen})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  async monitor(index: number, path: string): Promise<unknown> {
    const node = this.nodes[this.checkIndex(index)]!;
    const response = await fetch(`http://127.0.0.1:${node.monitorPort}${path}`, { signal: AbortSignal.timeout(2000) });
    if (!response.ok) throw new Error(`GET ${path} on node ${index} failed: HTTP ${response.status}`);
    return (await response.json()) as unknown;
  }

  async waitForMetaLeader(timeoutMs = this.timeoutMs): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let seen = "no node answered";
    for (;;) {
      const leaders = new Set<string>();
      let answered = 0;
      for (const node of this.nodes) {
        if (!this.isRunning(node.index)) continue;
        try {
          const jsz = (await this.monitor(node.index, "/jsz")) as { meta_cluster?: MetaCluster };
          leaders.add(jsz.meta_cluster?.leader ?? "");
          answered++;
        } catch (error) {
          seen = `node ${node.index}: ${(error as Error).message}`;
        }
      }
      const leader = leaders.size === 1 ? [...leaders][0]! : "";
      const leaderNode = this.nodes.find((node) => node.name === leader);
      if (answered > 0 && leaderNode && this.isRunning(leaderNode.index)) return leader;
      if (answered > 0) seen = `leaders reported: ${[...leaders].map((name) => name || "(none)").join(", ")}`;
      if (Date.now() > deadline) throw new Error(`no JetStream meta leader within ${timeoutMs} ms (${seen})`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  /** Stop every running node with SIGTERM, each failure logged and the rest still stopped. */
  async stopNodes(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        try {
          await this.stop(node.index);
        } catch (error) {
          console.error(`stopping cluster node ${node.index} failed: ${(error as Error).message}`);
        }
      }),
    );
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.stopNodes();
      rmSync(this.dir, { recursive: true, force: true });
      directories.delete(this.dir);
    })();
    return this.closing;
  }

  private forget(index: number, server: EmbeddedServer): void {
    running.delete(server);
    if (this.servers_[index] === server) this.servers_[index] = undefined;
  }

  private checkIndex(index: number): number {
    if (!Number.isInteger(index) || index < 0 || index >= this.nodes.length) {
      throw new RangeError(`node index ${index}: expected 0 to ${this.nodes.length - 1}`);
    }
    return index;
  }
}
