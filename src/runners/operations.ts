/**
 * Execution of one conformance step through the typed client, and the namespace
 * prefixing that lets every case of a run share one store.
 */
import type { Body, CallOptions, Client } from "../client/client.js";
import type { ContainerRecord, ImageRecord, LeaseResource, NamespaceRecord } from "../client/services.js";
import { MetadataError } from "../domain/errors.js";
import type { Step } from "./case-file.js";
import type { JsonObject, Outcome } from "./expectations.js";

/**
 * Maps a case's logical namespace names to store names. With a prefix, every
 * non-empty name gets it, and namespace lists are reduced to the names carrying it.
 * Without one (`rawNamespaces`), names are used as they are and lists hide the
 * prefixed namespaces of the other cases of the run.
 */
export class NamespaceNames {
  /**
   * @param prefix `<runTag>-<caseNumber>-`, or undefined for raw names
   * @param runTag the run-unique tag that starts every prefix of the run
   */
  constructor(readonly prefix: string | undefined, private readonly runTag: string) {}

  toStore(name: string): string {
    return this.prefix === undefined || name === "" ? name : this.prefix + name;
  }

  /** Return the logical name of a store name, or undefined when it belongs to another case. */
  fromStore(name: string): string | undefined {
    if (this.prefix === undefined) return name.startsWith(`${this.runTag}-`) ? undefined : name;
    return name.startsWith(this.prefix) ? name.slice(this.prefix.length) : undefined;
  }

  /** Remove the prefix from an error message, so it reads in the case's names. */
  scrub(message: string): string {
    return this.prefix === undefined ? message : message.split(this.prefix).join("");
  }
}

/** The result of running one step: what the service returned, and whether a sync delete collected garbage. */
export interface StepResult {
  outcome: Outcome;
  /** For a delete with `sync`: false when the reply carried no garbage collection result. */
  garbageCollected?: boolean;
}

/** Run one complete garbage collection and wait for it. */
export async function collectGarbage(client: Client): Promise<void> {
  await client.gc.collect();
}

type ResultRecord = Record<string, unknown>;

function asRecord(value: unknown): ResultRecord {
  return value as ResultRecord;
}

/** Type a request body from the case file, which was validated against the API's shapes. */
function requestBody<T>(value: JsonObject): T {
  return value as unknown as T;
}

function str(args: JsonObject, field: string): string {
  return typeof args[field] === "string" ? args[field] : "";
}

function obj(args: JsonObject, field: string): JsonObject {
  const value = args[field];
  return typeof value === "object" && value !== null && !Array.isArray(value) ? value : {};
}

function list(args: JsonObject, field: string): string[] {
  const value = args[field];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === "string") : [];
}

function labelsOf(args: JsonObject): { labels?: Record<string, string> } {
  const labels = args.labels;
  return typeof labels === "object" && labels !== null && !Array.isArray(labels) ? { labels: labels as Record<string, string> } : {};
}

function listed<T>(records: T[], key: (record: T) => string): Outcome {
  return { ok: true, list: records.map(asRecord), keys: records.map(key) };
}

/** Copy a namespace record with its store name turned back into the case's name. */
function logicalNamespace(record: NamespaceRecord, names: NamespaceNames): ResultRecord {
  return { ...record, name: names.fromStore(record.name) ?? record.name };
}

/** Resolve a namespace-service target. When step.namespace is given, it is the request context. */
function namespaceTarget(step: Step, names: NamespaceNames, name: string): { name: string; options: CallOptions } {
  const options: CallOptions = step.namespace === undefined ? {} : { namespace: names.toStore(step.namespace) };
  return { name: names.toStore(name), options };
}

async function runNamespaceOperation(client: Client, step: Step, names: NamespaceNames): Promise<Outcome> {
  const args = step.args;
  switch (step.op) {
    case "createNamespace": {
      const request = obj(args, "namespace");
      const { name, options } = namespaceTarget(step, names, str(request, "name"));
      const created = await client.namespaces.create({ ...requestBody<NamespaceRecord>(request), name }, options);
      return { ok: true, record: logicalNamespace(created, names) };
    }
    case "getNamespace": {
      const { name, options } = namespaceTarget(step, names, str(args, "name"));
      return { ok: true, record: logicalNamespace(await client.namespaces.get(name, options), names) };
    }
    case "updateNamespace": {
      const request = obj(args, "namespace");
      const { name, options } = namespaceTarget(step, names, str(request, "name"));
      await client.namespaces.update({ ...requestBody<NamespaceRecord>(request), name }, list(args, "updateMask"), options);
      return { ok: true };
    }
    case "deleteNamespace": {
      const { name, options } = namespaceTarget(step, names, str(args, "name"));
      await client.namespaces.delete(name, options);
      return { ok: true };
    }
    default: {
      // listNamespaces: the API's filter field is sent although the service ignores it.
      const body: Body = typeof args.filter === "string" ? { filter: args.filter } : {};
      const reply = await client.call("namespaces", "list", body, { namespace: "" });
      const all = (reply.body.namespaces ?? []) as NamespaceRecord[];
      const own = all.filter((record) => names.fromStore(record.name) !== undefined).map((record) => logicalNamespace(record, names));
      return { ok: true, list: own, keys: own.map((record) => String(record.name)) };
    }
  }
}

async function runContainerOrImageOperation(client: Client, step: Step, options: CallOptions): Promise<Outcome> {
  const args = step.args;
  const mask = list(args, "updateMask");
  const epoch = typeof args.sourceDateEpoch === "string" ? { sourceDateEpoch: args.sourceDateEpoch } : {};
  switch (step.op) {
    case "createContainer":
      return { ok: true, record: asRecord(await client.containers.create(requestBody<ContainerRecord>(obj(args, "container")), options)) };
    case "getContainer":
      return { ok: true, record: asRecord(await client.containers.get(str(args, "id"), options)) };
    case "listContainers":
      return listed(await client.containers.list(list(args, "filters"), options), (record) => record.id);
    case "updateContainer":
      return { ok: true, record: asRecord(await client.containers.update(requestBody<ContainerRecord>(obj(args, "container")), mask, options)) };
    case "deleteContainer":
      await client.containers.delete(str(args, "id"), options);
      return { ok: true };
    case "createImage":
      return { ok: true, record: asRecord(await client.images.create(requestBody<ImageRecord>(obj(args, "image")), { ...options, ...epoch })) };
    case "getImage":
      return { ok: true, record: asRecord(await client.images.get(str(args, "name"), options)) };
    case "listImages":
      return listed(await client.images.list(list(args, "filters"), options), (record) => record.name);
    case "updateImage":
      return { ok: true, record: asRecord(await client.images.update(requestBody<ImageRecord>(obj(args, "image")), mask, { ...options, ...epoch })) };
    default:
      throw new Error(`${step.op} is not a container or image operation`);
  }
}

async function runContentOrSnapshotOperation(client: Client, step: Step, options: CallOptions): Promise<Outcome> {
  const args = step.args;
  const mask = list(args, "updateMask");
  const snapshotter = str(args, "snapshotter");
  switch (step.op) {
    case "writeContent":
      // Metadata only: the service records blobs that a node agent wrote and verified.
      await client.content.commit({ digest: str(args, "digest"), size: Number(args.size), ...labelsOf(args) }, options);
      return { ok: true };
    case "contentInfo":
      return { ok: true, record: asRecord(await client.content.info(str(args, "digest"), options)) };
    case "updateContent": {
      const info = obj(args, "info");
      return { ok: true, record: asRecord(await client.content.update({ digest: str(info, "digest"), ...labelsOf(info) }, mask, options)) };
    }
    case "deleteContent":
      await client.content.delete(str(args, "digest"), options);
      return { ok: true };
    case "listContent":
      return listed(await client.content.list(list(args, "filters"), options), (record) => record.digest);
    case "prepareSnapshot":
    case "viewSnapshot": {
      const request = { snapshotter, key: str(args, "key"), parent: str(args, "parent"), ...labelsOf(args) };
      await (step.op === "prepareSnapshot" ? client.snapshots.prepare(request, options) : client.snapshots.view(request, options));
      return { ok: true };
    }
    case "commitSnapshot":
      await client.snapshots.commit({ snapshotter, name: str(args, "name"), key: str(args, "key"), ...labelsOf(args) }, options);
      return { ok: true };
    case "removeSnapshot":
      await client.snapshots.remove(snapshotter, str(args, "key"), options);
      return { ok: true };
    case "statSnapshot":
      return { ok: true, record: asRecord(await client.snapshots.stat(snapshotter, str(args, "key"), options)) };
    case "updateSnapshot": {
      const info = obj(args, "info");
      return { ok: true, record: asRecord(await client.snapshots.update(snapshotter, { name: str(info, "name"), ...labelsOf(info) }, mask, options)) };
    }
    case "listSnapshots":
      return listed(await client.snapshots.list(snapshotter, list(args, "filters"), options), (record) => record.name);
    default:
      throw new Error(`${step.op} is not a content or snapshot operation`);
  }
}

async function runLeaseOperation(client: Client, step: Step, options: CallOptions): Promise<StepResult> {
  const args = step.args;
  const resource = obj(args, "resource");
  const leaseResource: LeaseResource = { id: str(resource, "id"), type: str(resource, "type") };
  switch (step.op) {
    case "createLease":
      return { outcome: { ok: true, record: asRecord(await client.leases.create({ id: str(args, "id"), ...labelsOf(args) }, options)) } };
    case "deleteLease":
      return deleted(await client.leases.delete(str(args, "id"), args.sync === true, options), args.sync === true);
    case "listLeases":
      return { outcome: listed(await client.leases.list(list(args, "filters"), options), (record) => record.id) };
    case "addLeaseResource":
      await client.leases.addResource(str(args, "id"), leaseResource, options);
      return { outcome: { ok: true } };
    case "deleteLeaseResource":
      await client.leases.deleteResource(str(args, "id"), leaseResource, options);
      return { outcome: { ok: true } };
    case "listLeaseResources":
      return { outcome: { ok: true, resources: await client.leases.listResources(str(args, "id"), options) } };
    default:
      throw new Error(`${step.op} is not a lease operation`);
  }
}

/** Build a delete's result. With `sync`, the reply carries the stats of the garbage collection it waited for. */
function deleted(reply: Body, sync: boolean): StepResult {
  return sync ? { outcome: { ok: true }, garbageCollected: reply.gc !== undefined } : { outcome: { ok: true } };
}

async function dispatch(client: Client, step: Step, names: NamespaceNames): Promise<StepResult> {
  // A step without a namespace sends none, never the client's default namespace.
  const options: CallOptions = { namespace: names.toStore(step.namespace ?? "") };
  if (step.lease !== undefined) options.lease = step.lease;
  switch (step.op) {
    case "createNamespace":
    case "getNamespace":
    case "listNamespaces":
    case "updateNamespace":
    case "deleteNamespace":
      return { outcome: await runNamespaceOperation(client, step, names) };
    case "deleteImage":
      return deleted(await client.images.delete(str(step.args, "name"), step.args.sync === true, options), step.args.sync === true);
    case "createLease":
    case "deleteLease":
    case "listLeases":
    case "addLeaseResource":
    case "deleteLeaseResource":
    case "listLeaseResources":
      return runLeaseOperation(client, step, options);
    case "createContainer":
    case "getContainer":
    case "listContainers":
    case "updateContainer":
    case "deleteContainer":
    case "createImage":
    case "getImage":
    case "listImages":
    case "updateImage":
      return { outcome: await runContainerOrImageOperation(client, step, options) };
    case "gc":
      throw new Error("the gc operation runs through collectGarbage, not as a request");
    default:
      return { outcome: await runContentOrSnapshotOperation(client, step, options) };
  }
}

/**
 * Run one step. An error reply becomes an error outcome with the case's namespace
 * names; any other failure (a bug in the runner) propagates.
 */
export async function runStep(client: Client, step: Step, names: NamespaceNames): Promise<StepResult> {
  try {
    return await dispatch(client, step, names);
  } catch (error) {
    if (error instanceof MetadataError) return { outcome: { ok: false, kind: error.kind, message: names.scrub(error.message) } };
    throw error;
  }
}
