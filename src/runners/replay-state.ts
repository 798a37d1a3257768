/**
 * Compares ctrmeta's state after a replay with the recorded final-state files:
 * namespaces, and per namespace its containers, images, content, snapshots (per
 * snapshotter) and leases with their resources. Also compares each recorded
 * `deleted` record with the record ctrmeta held just before the same delete.
 */
import type { Client } from "../client/client.js";
import { MetadataError } from "../domain/errors.js";
import { deletedRecordKey } from "./replay-calls.js";
import { compareBodies, summarizeDiffs, type IdMap } from "./replay-compare.js";
import { bodyFromProtoJson, readStateFile, type Body, type StateFile } from "./replay-convert.js";

export type StateKind = "namespaces" | "containers" | "images" | "content" | "snapshots" | "leases";

export interface StateResult {
  status: "ok" | "DIFF";
  kind: StateKind | "deleted containers" | "deleted images";
  /** `<namespace>/<key>`, or the namespace name for namespaces. */
  label: string;
  detail: string;
  cause?: "gc";
}

export interface StateInput {
  dir: string;
  client: Client;
  ids: IdMap;
  /** Records ctrmeta held just before each replayed delete (see `deletedRecordKey`). */
  beforeDelete: ReadonlyMap<string, Body>;
  /** Seqs of synchronous deletes whose garbage collection ctrmeta did not run. */
  skippedGc: readonly number[];
  /** Namespaces whose delete differed because of the missing garbage collector. */
  gcKeptNamespaces: ReadonlySet<string>;
}

/** Kinds of records that containerd's garbage collector deletes. */
const COLLECTED_KINDS = new Set<string>(["content", "snapshots", "leases"]);

/** A state record without its location fields, keyed within its namespace. */
interface Keyed {
  namespace: string;
  key: string;
  record: Body;
}

const KEY_FIELDS: Record<Exclude<StateKind, "namespaces">, string> = {
  containers: "id",
  images: "name",
  content: "digest",
  snapshots: "name",
  leases: "id",
};

function keyedItems(kind: Exclude<StateKind, "namespaces">, file: StateFile, ids: IdMap): Keyed[] {
  return file.items.map((item) => {
    const { namespace, ...rest } = bodyFromProtoJson(item);
    let snapshotter = "";
    // A snapshot's snapshotter is where it lives, not a field of snapshots.Info.
    if (kind === "snapshots") {
      snapshotter = String(rest.snapshotter ?? "");
      delete rest.snapshotter;
    }
    const record = ids.apply(rest) as Body;
    const id = String(record[KEY_FIELDS[kind]] ?? "");
    const key = kind === "snapshots" ? `${snapshotter}/${id}` : id;
    return { namespace: String(namespace ?? ""), key, record };
  });
}

/** Read the actual records of one kind in one namespace. */
async function actualItems(client: Client, kind: Exclude<StateKind, "namespaces">, namespace: string, snapshotters: string[]): Promise<Keyed[]> {
  const options = { namespace };
  const wrap = (key: string, record: object): Keyed => ({ namespace, key, record: record as Body });
  switch (kind) {
    case "containers":
      return (await client.containers.list([], options)).map((record) => wrap(record.id, record));
    case "images":
      return (await client.images.list([], options)).map((record) => wrap(record.name, record));
    case "content":
      return (await client.content.list([], options)).map((record) => wrap(record.digest, record));
    case "snapshots": {
      const out: Keyed[] = [];
      for (const snapshotter of snapshotters) {
        for (const record of await client.snapshots.list(snapshotter, [], options)) out.push(wrap(`${snapshotter}/${record.name}`, record));
      }
      return out;
    }
    case "leases": {
      const out: Keyed[] = [];
      for (const lease of await client.leases.list([], options)) {
        const resources = await client.leases.listResources(lease.id, options);
        out.push(wrap(lease.id, { ...lease, resources }));
      }
      return out;
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof MetadataError ? `${error.kind}: ${error.message}` : String(error);
}

/** Compare the records of one kind by key, in every namespace that either side has. */
async function compareKind(
  input: StateInput,
  kind: Exclude<StateKind, "namespaces">,
  file: StateFile,
  namespaces: string[],
  snapshotters: string[],
): Promise<StateResult[]> {
  const results: StateResult[] = [];
  const expected = keyedItems(kind, file, input.ids);
  for (const namespace of namespaces) {
    let actual: Keyed[];
    try {
      actual = await actualItems(input.client, kind, namespace, snapshotters);
    } catch (error) {
      results.push({ status: "DIFF", kind, label: namespace, detail: `listing failed: ${errorText(error)}` });
      continue;
    }
    const expectedByKey = new Map(expected.filter((item) => item.namespace === namespace).map((item) => [item.key, item.record]));
    const actualByKey = new Map(actual.map((item) => [item.key, item.record]));
    for (const [key, record] of expectedByKey) {
      const label = `${namespace}/${key}`;
      const other = actualByKey.get(key);
      if (!other) {
        results.push({ status: "DIFF", kind, label, detail: "missing in ctrmeta" });
        continue;
      }
      const diffs = compareBodies(record, other);
      results.push(diffs.length === 0
        ? { status: "ok", kind, label, detail: "matches" }
        : { status: "DIFF", kind, label, detail: summarizeDiffs(diffs) });
    }
    for (const key of actualByKey.keys()) {
      if (expectedByKey.has(key)) continue;
      results.push(extraRecord(input, kind, namespace, key));
    }
  }
  return results;
}

/**
 * Report a record only ctrmeta has. NOTE: the GC attribution is a heuristic (a kind
 * GC deletes, or a namespace whose delete failed for GC); it does not prove reachability.
 */
function extraRecord(input: StateInput, kind: StateKind, namespace: string, key: string): StateResult {
  const label = kind === "namespaces" ? namespace : `${namespace}/${key}`;
  const gc = input.skippedGc.length > 0 && (COLLECTED_KINDS.has(kind) || input.gcKeptNamespaces.has(namespace));
  if (!gc) return { status: "DIFF", kind, label, detail: "extra in ctrmeta" };
  const requesters = input.skippedGc.map((seq) => `#${seq}`).join(", ");
  const explanation = kind === "namespaces" || !COLLECTED_KINDS.has(kind)
    ? `its namespace delete failed because ctrmeta ran no GC (requested by ${requesters})`
    : `containerd's garbage collector removed it (GC requested by ${requesters}); ctrmeta ran none`;
  return { status: "DIFF", kind, label, detail: `extra in ctrmeta; probable cause: ${explanation}`, cause: "gc" };
}

/** Compare recorded `deleted` records with the records read just before each replayed delete. */
function compareDeleted(input: StateInput, kind: "containers" | "images", file: StateFile): StateResult[] {
  const keyField = KEY_FIELDS[kind];
  return (file.deleted ?? []).map((entry): StateResult => {
    const record = input.ids.apply(bodyFromProtoJson(entry.record)) as Body;
    const id = String(record[keyField] ?? "");
    const label = `${entry.namespace}/${id}`;
    const captured = input.beforeDelete.get(deletedRecordKey(kind, entry.namespace, id, entry.deleted_by_op));
    const resultKind = kind === "containers" ? "deleted containers" : "deleted images";
    if (!captured) return { status: "DIFF", kind: resultKind, label, detail: `no record read before the replayed delete of step ${entry.deleted_by_op}` };
    const diffs = compareBodies(record, captured);
    if (diffs.length === 0) return { status: "ok", kind: resultKind, label, detail: "matches the record before its delete" };
    return { status: "DIFF", kind: resultKind, label, detail: summarizeDiffs(diffs) };
  });
}

/** Compare the whole final state; a kind without its state file is left out. */
export async function compareState(input: StateInput): Promise<StateResult[]> {
  const results: StateResult[] = [];
  const files = new Map<StateKind, StateFile>();
  for (const kind of ["namespaces", "containers", "images", "content", "snapshots", "leases"] as const) {
    const file = readStateFile(input.dir, `${kind}.json`);
    if (file) files.set(kind, file);
  }

  const actualNamespaces = await input.client.namespaces.list();
  const names = new Set(actualNamespaces.map((namespace) => namespace.name));
  for (const file of files.values()) {
    for (const item of file.items) if (typeof item.namespace === "string") names.add(item.namespace);
  }
  const namespaceFile = files.get("namespaces");
  if (namespaceFile) {
    const expected = namespaceFile.items.map((item) => bodyFromProtoJson(item));
    for (const record of expected) names.add(String(record.name ?? ""));
    const got = new Map(actualNamespaces.map((namespace) => [namespace.name, namespace]));
    for (const record of expected) {
      const name = String(record.name ?? "");
      const other = got.get(name);
      if (!other) {
        results.push({ status: "DIFF", kind: "namespaces", label: name, detail: "missing in ctrmeta" });
        continue;
      }
      const diffs = compareBodies(record, other);
      results.push({ status: diffs.length === 0 ? "ok" : "DIFF", kind: "namespaces", label: name, detail: diffs.length === 0 ? "matches" : summarizeDiffs(diffs) });
      got.delete(name);
    }
    for (const name of got.keys()) results.push(extraRecord(input, "namespaces", name, name));
  }

  const sorted = [...names].sort();
  const snapshotFile = files.get("snapshots");
  const snapshotters = snapshotFile?.snapshotters ?? [...new Set(snapshotFile?.items.map((item) => String(item.snapshotter ?? "")) ?? [])];
  for (const kind of ["containers", "images", "content", "snapshots", "leases"] as const) {
    const file = files.get(kind);
    if (file) results.push(...(await compareKind(input, kind, file, sorted, snapshotters)));
  }
  for (const kind of ["containers", "images"] as const) {
    const file = files.get(kind);
    if (file) results.push(...compareDeleted(input, kind, file));
  }
  return results;
}
