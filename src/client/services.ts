/**
 * Typed wrappers, one per containerd service, over `Client.call`. Records are the
 * API's JSON bodies (see docs/api.md).
 */
import type { Body, CallOptions, CallResult, Client } from "./client.js";

/** A protobuf Any: `value` is JSON standing for its JSON bytes; `valueBase64` for other bytes. */
export interface AnyBody {
  typeUrl: string;
  value?: unknown;
  valueBase64?: string;
}

export interface ContainerRecord {
  id: string;
  labels?: Record<string, string>;
  image?: string;
  runtime?: { name?: string; options?: AnyBody };
  spec?: AnyBody;
  snapshotter?: string;
  snapshotKey?: string;
  extensions?: Record<string, AnyBody>;
  sandbox?: string;
  createdAt?: string;
  updatedAt?: string;
}

export interface ImageRecord {
  name: string;
  labels?: Record<string, string>;
  target?: { mediaType?: string; digest?: string; size?: number; annotations?: Record<string, string> };
  createdAt?: string;
  updatedAt?: string;
}

export interface NamespaceRecord {
  name: string;
  labels?: Record<string, string>;
}

export interface ContentRecord {
  digest: string;
  size?: number;
  labels?: Record<string, string>;
  createdAt?: string;
  updatedAt?: string;
}

export interface SnapshotRecord {
  name: string;
  parent?: string;
  kind?: "active" | "view" | "committed";
  labels?: Record<string, string>;
  createdAt?: string;
  updatedAt?: string;
}

export interface LeaseRecord {
  id: string;
  labels?: Record<string, string>;
  createdAt?: string;
}

export interface LeaseResource {
  id: string;
  type: string;
}

abstract class ServiceClient {
  constructor(protected readonly client: Client, private readonly service: string) {}

  protected call(method: string, body: Body, options?: CallOptions): Promise<CallResult> {
    return this.client.call(this.service, method, body, options);
  }
}

export class ContainersClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "containers");
  }

  async create(container: ContainerRecord, options?: CallOptions): Promise<ContainerRecord> {
    return (await this.call("create", { container }, options)).body.container as ContainerRecord;
  }

  async get(id: string, options?: CallOptions): Promise<ContainerRecord> {
    return (await this.call("get", { id }, options)).body.container as ContainerRecord;
  }

  /** Yield the matching containers chunk by chunk, as the service sends them. */
  listChunks(filters: string[] = [], options?: CallOptions): AsyncGenerator<ContainerRecord[]> {
    return this.client.listChunks<ContainerRecord>("containers", "list", { filters }, "containers", options);
  }

  async list(filters: string[] = [], options?: CallOptions): Promise<ContainerRecord[]> {
    return this.client.list<ContainerRecord>("containers", "list", { filters }, "containers", options);
  }

  async update(container: ContainerRecord, updateMask: string[] = [], options?: CallOptions): Promise<ContainerRecord> {
    return (await this.call("update", { container, updateMask }, options)).body.container as ContainerRecord;
  }

  async delete(id: string, options?: CallOptions): Promise<void> {
    await this.call("delete", { id }, options);
  }
}

export class ImagesClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "images");
  }

  async create(image: ImageRecord, options?: CallOptions & { sourceDateEpoch?: string }): Promise<ImageRecord> {
    const body: Body = { image };
    if (options?.sourceDateEpoch) body.sourceDateEpoch = options.sourceDateEpoch;
    return (await this.call("create", body, options)).body.image as ImageRecord;
  }

  async get(name: string, options?: CallOptions): Promise<ImageRecord> {
    return (await this.call("get", { name }, options)).body.image as ImageRecord;
  }

  async list(filters: string[] = [], options?: CallOptions): Promise<ImageRecord[]> {
    return this.client.list<ImageRecord>("images", "list", { filters }, "images", options);
  }

  async update(image: ImageRecord, updateMask: string[] = [], options?: CallOptions & { sourceDateEpoch?: string }): Promise<ImageRecord> {
    const body: Body = { image, updateMask };
    if (options?.sourceDateEpoch) body.sourceDateEpoch = options.sourceDateEpoch;
    return (await this.call("update", body, options)).body.image as ImageRecord;
  }

  /** Delete; with `sync` the reply waits for a garbage collection and carries its stats. */
  async delete(name: string, sync = false, options?: CallOptions): Promise<Body> {
    return (await this.call("delete", { name, sync }, options)).body;
  }
}

export class NamespacesClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "namespaces");
  }

  async create(namespace: NamespaceRecord, options?: CallOptions): Promise<NamespaceRecord> {
    const reply = await this.call("create", { namespace }, { ...options, namespace: namespace.name });
    return reply.body.namespace as NamespaceRecord;
  }

  async get(name: string, options?: CallOptions): Promise<NamespaceRecord> {
    return (await this.call("get", { name }, { ...options, namespace: name })).body.namespace as NamespaceRecord;
  }

  async list(options?: CallOptions): Promise<NamespaceRecord[]> {
    return this.client.list<NamespaceRecord>("namespaces", "list", {}, "namespaces", { ...options, namespace: "" });
  }

  async update(namespace: NamespaceRecord, updateMask: string[] = [], options?: CallOptions): Promise<void> {
    await this.call("update", { namespace, updateMask }, { ...options, namespace: namespace.name });
  }

  async delete(name: string, options?: CallOptions): Promise<void> {
    await this.call("delete", { name }, { ...options, namespace: name });
  }
}

export class ContentClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "content");
  }

  /** Record a blob a node agent has written and verified. */
  async commit(info: { digest: string; size: number; labels?: Record<string, string> }, options?: CallOptions): Promise<ContentRecord> {
    return (await this.call("commit", info, options)).body.info as ContentRecord;
  }

  async info(digest: string, options?: CallOptions): Promise<ContentRecord> {
    return (await this.call("info", { digest }, options)).body.info as ContentRecord;
  }

  async list(filters: string[] = [], options?: CallOptions): Promise<ContentRecord[]> {
    return this.client.list<ContentRecord>("content", "list", { filters }, "info", options);
  }

  async update(info: { digest: string; labels?: Record<string, string> }, updateMask: string[] = [], options?: CallOptions): Promise<ContentRecord> {
    return (await this.call("update", { info, updateMask }, options)).body.info as ContentRecord;
  }

  async delete(digest: string, options?: CallOptions): Promise<void> {
    await this.call("delete", { digest }, options);
  }
}

export interface SnapshotRequest {
  snapshotter: string;
  key: string;
  parent?: string;
  labels?: Record<string, string>;
}

export class SnapshotsClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "snapshots");
  }

  async prepare(request: SnapshotRequest, options?: CallOptions): Promise<SnapshotRecord> {
    return (await this.call("prepare", { ...request }, options)).body.info as SnapshotRecord;
  }

  async view(request: SnapshotRequest, options?: CallOptions): Promise<SnapshotRecord> {
    return (await this.call("view", { ...request }, options)).body.info as SnapshotRecord;
  }

  async commit(
    request: { snapshotter: string; name: string; key: string; labels?: Record<string, string> },
    options?: CallOptions,
  ): Promise<SnapshotRecord> {
    return (await this.call("commit", { ...request }, options)).body.info as SnapshotRecord;
  }

  async stat(snapshotter: string, key: string, options?: CallOptions): Promise<SnapshotRecord> {
    return (await this.call("stat", { snapshotter, key }, options)).body.info as SnapshotRecord;
  }

  async update(
    snapshotter: string,
    info: { name: string; labels?: Record<string, string> },
    updateMask: string[] = [],
    options?: CallOptions,
  ): Promise<SnapshotRecord> {
    return (await this.call("update", { snapshotter, info, updateMask }, options)).body.info as SnapshotRecord;
  }

  async list(snapshotter: string, filters: string[] = [], options?: CallOptions): Promise<SnapshotRecord[]> {
    return this.client.list<SnapshotRecord>("snapshots", "list", { snapshotter, filters }, "info", options);
  }

  async remove(snapshotter: string, key: string, options?: CallOptions): Promise<void> {
    await this.call("remove", { snapshotter, key }, options);
  }
}

export class LeasesClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "leases");
  }

  /** Create a lease; an empty id makes the service generate one. */
  async create(lease: { id?: string; labels?: Record<string, string> }, options?: CallOptions): Promise<LeaseRecord> {
    return (await this.call("create", { ...lease }, options)).body.lease as LeaseRecord;
  }

  async delete(id: string, sync = false, options?: CallOptions): Promise<Body> {
    return (await this.call("delete", { id, sync }, options)).body;
  }

  async list(filters: string[] = [], options?: CallOptions): Promise<LeaseRecord[]> {
    return this.client.list<LeaseRecord>("leases", "list", { filters }, "leases", options);
  }

  async addResource(id: string, resource: LeaseResource, options?: CallOptions): Promise<void> {
    await this.call("addResource", { id, resource }, options);
  }

  async deleteResource(id: string, resource: LeaseResource, options?: CallOptions): Promise<void> {
    await this.call("deleteResource", { id, resource }, options);
  }

  async listResources(id: string, options?: CallOptions): Promise<LeaseResource[]> {
    return ((await this.call("listResources", { id }, options)).body.resources ?? []) as LeaseResource[];
  }
}

/** Statistics of one garbage collection, as the service returns them. */
export interface CollectionStats {
  startedAt: string;
  viewSeq: number;
  seq?: number;
  durationMs: number;
  markMs: number;
  roots: number;
  marked: number;
  candidates: number;
  removed: { content: number; snapshots: number; leases: number };
  skipped: number;
}

export interface GcNodeRecord {
  kind: "content" | "snapshot" | "lease" | "image" | "container";
  namespace: string;
  key: string;
  snapshotter?: string;
}

export interface Explanation {
  node: GcNodeRecord;
  reachable: boolean;
  /** From a root to the node; empty when the node is unreferenced. */
  chain: GcNodeRecord[];
}

export class GcClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "gc");
  }

  /** Run a garbage collection that starts after this call and return its stats. */
  async collect(options?: CallOptions): Promise<CollectionStats> {
    return (await this.call("collect", {}, { ...options, namespace: "" })).body.gc as CollectionStats;
  }

  async status(options?: CallOptions): Promise<Record<string, unknown>> {
    return (await this.call("status", {}, { ...options, namespace: "" })).body.status as Record<string, unknown>;
  }

  /** Why an object in the request's namespace is kept, or that nothing references it. */
  async explain(kind: GcNodeRecord["kind"], key: string, snapshotter?: string, options?: CallOptions): Promise<Explanation> {
    const body = snapshotter === undefined ? { kind, key } : { kind, key, snapshotter };
    return (await this.call("explain", body, options)).body as unknown as Explanation;
  }
}

/** One event of an object's history. */
export interface HistoryEntry {
  seq: number;
  time: string;
  requestId: string;
  type: string;
  /** Field paths with their values before (`from`) and after (`to`). */
  changes: Array<{ path: string; from?: unknown; to?: unknown }>;
}

export class HistoryClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "history");
  }

  /**
   * Every event of one object, oldest first. `kind` is namespace, container, image,
   * content, snapshot or lease; for a namespace, `key` is its name.
   */
  async get(kind: string, key: string, snapshotter?: string, options?: CallOptions): Promise<HistoryEntry[]> {
    const body = snapshotter === undefined ? { kind, key } : { kind, key, snapshotter };
    const callOptions = kind === "namespace" ? { ...options, namespace: key } : options;
    return (await this.call("get", body, callOptions)).body.history as HistoryEntry[];
  }
}

export class StatusClient extends ServiceClient {
  constructor(client: Client) {
    super(client, "status");
  }

  /** The log and topics streams, their consumers, every instance's view and lag, and the collector. */
  async get(options?: CallOptions): Promise<Record<string, unknown>> {
    return (await this.call("get", {}, { ...options, namespace: "" })).body.status as Record<string, unknown>;
  }

  /** The status of whichever instance answers. */
  async instance(options?: CallOptions): Promise<Record<string, unknown>> {
    return (await this.call("instance", {}, { ...options, namespace: "" })).body.instance as Record<string, unknown>;
  }
}
