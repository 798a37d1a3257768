import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";

import type { StringMap } from "../../src/domain/labels.js";
import { newNamespaceState, type MetadataState } from "../../src/domain/state.js";
import { parseRfc3339 } from "../../src/domain/time.js";
import { mark, sweepCandidates, type GcNode, type MarkResult } from "../../src/gc/mark.js";

const NOW = parseRfc3339("2024-05-01T12:00:00Z")!;
const STAMPS = { createdAt: "2024-05-01T00:00:00.000000000Z", updatedAt: "2024-05-01T00:00:00.000000000Z" };

const CONTENT = "containerd.io/gc.ref.content";
const SNAPSHOT = "containerd.io/gc.ref.snapshot.";
const ROOT = "containerd.io/gc.root";
const EXPIRE = "containerd.io/gc.expire";
const FLAT = "containerd.io/gc.flat";

/** Names of the test blobs by digest, so that results read as names. */
const blobNames = new Map<string, string>();

/** Compute the sha256 digest that stands for the blob called `name`, and remember the name. */
function digest(name: string): string {
  const value = `sha256:${createHash("sha256").update(name).digest("hex")}`;
  blobNames.set(value, name);
  return value;
}

interface NamespaceFixture {
  /** Blob name to labels. The record key is `digest(name)`. */
  content?: Record<string, StringMap>;
  /** `<snapshotter>/<key>` to the record's parent key and labels. */
  snapshots?: Record<string, { parent?: string; labels?: StringMap }>;
  /** Image name to the target blob name and labels. */
  images?: Record<string, { target: string; labels?: StringMap }>;
  containers?: Record<string, { snapshotter?: string; snapshotKey?: string; labels?: StringMap }>;
  /** Lease id to labels and resources: blob names, `<snapshotter>/<key>` snapshots, ingest refs. */
  leases?: Record<string, { labels?: StringMap; content?: string[]; snapshots?: string[]; ingests?: string[] }>;
}

/** Namespace name to its objects. */
type Fixture = Record<string, NamespaceFixture>;

function splitPath(path: string): [string, string] {
  const slash = path.indexOf("/");
  return [path.slice(0, slash), path.slice(slash + 1)];
}

function buildState(fixture: Fixture): MetadataState {
  const state: MetadataState = { namespaces: new Map() };
  for (const [name, objects] of Object.entries(fixture)) {
    const namespace = newNamespaceState(name);
    state.namespaces.set(name, namespace);

    for (const [blob, labels] of Object.entries(objects.content ?? {})) {
      namespace.content.set(digest(blob), { digest: digest(blob), size: 1, labels, ...STAMPS });
    }
    for (const [path, { parent = "", labels = {} }] of Object.entries(objects.snapshots ?? {})) {
      const [snapshotter, key] = splitPath(path);
      const records = namespace.snapshots.get(snapshotter) ?? new Map();
      records.set(key, { snapshotter, name: key, parent, kind: "committed", labels, ...STAMPS });
      namespace.snapshots.set(snapshotter, records);
    }
    for (const [image, { target, labels = {} }] of Object.entries(objects.images ?? {})) {
      const descriptor = { mediaType: "application/vnd.oci.image.index.v1+json", digest: digest(target), size: 1 };
      namespace.images.set(image, { name: image, labels, target: { ...descriptor, annotations: {} }, ...STAMPS });
    }
    for (const [id, { snapshotter = "", snapshotKey = "", labels = {} }] of Object.entries(objects.containers ?? {})) {
      const runtime = { name: "io.containerd.runc.v2" };
      const spec = { typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: new Uint8Array() };
      const container = { id, labels, image: "", runtime, spec, snapshotter, snapshotKey, extensions: {}, sandbox: "" };
      namespace.containers.set(id, { ...container, ...STAMPS });
    }
    for (const [id, lease] of Object.entries(objects.leases ?? {})) {
      const snapshots = new Map<string, Set<string>>();
      for (const path of lease.snapshots ?? []) {
        const [snapshotter, key] = splitPath(path);
        snapshots.set(snapshotter, (snapshots.get(snapshotter) ?? new Set()).add(key));
      }
      const resources = { content: new Set((lease.content ?? []).map(digest)), ingests: new Set(lease.ingests), snapshots };
      namespace.leases.set(id, { id, labels: lease.labels ?? {}, createdAt: STAMPS.createdAt, resources });
    }
  }
  return state;
}

/** List every content, snapshot and lease record the mark keeps, as `<namespace> <kind> <name>`, sorted. */
function reachableRecords(state: MetadataState, result: MarkResult): string[] {
  const reachable: string[] = [];
  for (const [name, namespace] of state.namespaces) {
    for (const key of namespace.content.keys()) {
      if (result.isReachable({ kind: "content", namespace: name, key })) {
        reachable.push(`${name} content ${blobNames.get(key)}`);
      }
    }
    for (const [snapshotter, records] of namespace.snapshots) {
      for (const key of records.keys()) {
        if (result.isReachable({ kind: "snapshot", namespace: name, key, snapshotter })) {
          reachable.push(`${name} snapshot ${snapshotter}/${key}`);
        }
      }
    }
    for (const key of namespace.leases.keys()) {
      if (result.isReachable({ kind: "lease", namespace: name, key })) reachable.push(`${name} lease ${key}`);
    }
  }
  return reachable.sort();
}

/** A table row: the objects of namespace `ns`, or of several namespaces, and what the mark keeps. */
type MarkCase = { name: string; reachable: string[] } & ({ objects: NamespaceFixture } | { namespaces: Fixture });

/** Run each case as a test. Expected records of `objects` cases omit the `ns ` prefix. */
function runCases(cases: MarkCase[]): void {
  for (const markCase of cases) {
    test(markCase.name, () => {
      const single = "objects" in markCase;
      const state = buildState(single ? { ns: markCase.objects } : markCase.namespaces);
      const expected = single ? markCase.reachable.map((record) => `ns ${record}`) : markCase.reachable;
      assert.deepEqual(reachableRecords(state, mark(state, NOW)), expected.sort());
    });
  }
}

// Roots: images, containers, leases and `gc.root` labels.
runCases([
  { name: "image target keeps content",
    objects: { images: { app: { target: "index" } }, content: { index: {}, other: {} } },
    reachable: ["content index"] },
  { name: "image labels keep references",
    objects: {
      images: { app: { target: "index", labels: { [`${SNAPSHOT}overlayfs`]: "sn1", [CONTENT]: digest("layer") } } },
      content: { index: {}, layer: {} },
      snapshots: { "overlayfs/sn1": {}, "overlayfs/sn2": {} },
    },
    reachable: ["content index", "content layer", "snapshot overlayfs/sn1"] },
  { name: "content root label keeps content",
    objects: { content: { always: { [ROOT]: "always" }, no: { [ROOT]: "false" }, plain: {} } },
    reachable: ["content always", "content no"] },
  { name: "snapshot root label keeps snapshot",
    objects: { snapshots: { "overlayfs/sn1": { labels: { [ROOT]: "2020-01-01T00:00:00Z" } }, "overlayfs/sn2": {} } },
    reachable: ["snapshot overlayfs/sn1"] },
  { name: "container keeps its snapshot",
    objects: {
      containers: { web: { snapshotter: "overlayfs", snapshotKey: "sn1" } },
      snapshots: { "overlayfs/sn1": {}, "overlayfs/sn2": {}, "native/sn1": {} },
    },
    reachable: ["snapshot overlayfs/sn1"] },
  { name: "container labels keep references",
    objects: {
      containers: {
        web: {
          labels: { [`${SNAPSHOT}overlayfs/anything-1`]: "sn8", [`${SNAPSHOT}overlayfs/anything-2`]: "sn9" },
        },
        app: { labels: { [`${CONTENT}.0`]: digest("config"), [`${CONTENT}.1`]: digest("layer") } },
      },
      content: { config: {}, layer: {}, other: {} },
      snapshots: { "overlayfs/sn8": {}, "overlayfs/sn9": {}, "overlayfs/sn1": {} },
    },
    reachable: ["content config", "content layer", "snapshot overlayfs/sn8", "snapshot overlayfs/sn9"] },
  { name: "container empty key still roots",
    objects: { containers: { web: { snapshotter: "overlayfs" } }, snapshots: { "overlayfs/": {}, "overlayfs/sn1": {} } },
    reachable: ["snapshot overlayfs/"] },
  { name: "container snapshotter slash splits key",
    objects: { containers: { web: { snapshotter: "overlayfs/a", snapshotKey: "b" } }, snapshots: { "overlayfs/a/b": {} } },
    reachable: ["snapshot overlayfs/a/b"] },
  { name: "live lease keeps resources",
    objects: {
      leases: { l1: { content: ["blob"], snapshots: ["overlayfs/sn1"], ingests: ["upload-1"] } },
      content: { blob: {}, other: {} },
      snapshots: { "overlayfs/sn1": {}, "overlayfs/sn2": {} },
    },
    reachable: ["content blob", "lease l1", "snapshot overlayfs/sn1"] },
  { name: "lease labels are not references",
    objects: { leases: { l1: { labels: { [CONTENT]: digest("blob") } } }, content: { blob: {} } },
    reachable: ["lease l1"] },
]);

// Lease expiry, compared with NOW (2024-05-01T12:00:00Z).
runCases([
  { name: "future expiry keeps lease",
    objects: { leases: { l1: { labels: { [EXPIRE]: "2024-05-01T13:00:00Z" }, content: ["blob"] } }, content: { blob: {} } },
    reachable: ["content blob", "lease l1"] },
  { name: "past expiry drops lease",
    objects: {
      leases: { l1: { labels: { [EXPIRE]: "2024-05-01T11:59:59.999999999Z" }, content: ["blob"], snapshots: ["overlayfs/sn1"] } },
      content: { blob: {} },
      snapshots: { "overlayfs/sn1": {} },
    },
    reachable: [] },
  { name: "expiry offset is honoured",
    objects: {
      leases: { east: { labels: { [EXPIRE]: "2024-05-01T13:30:00+02:00" } }, west: { labels: { [EXPIRE]: "2024-05-01T07:30:00-05:00" } } },
    },
    reachable: ["lease west"] },
  { name: "expiry equal to start is live",
    objects: { leases: { l1: { labels: { [EXPIRE]: "2024-05-01T12:00:00Z" } } } },
    reachable: ["lease l1"] },
  { name: "unparsable expiry never expires",
    objects: {
      leases: { l1: { labels: { [EXPIRE]: "yesterday" }, content: ["blob"] }, l2: { labels: { [EXPIRE]: "2020-01-01" } } },
      content: { blob: {} },
    },
    reachable: ["content blob", "lease l1", "lease l2"] },
]);

// Edges: reference labels, snapshot parents, dead edges and namespaces.
runCases([
  { name: "content reference label forms",
    objects: {
      content: {
        exact: { [CONTENT]: digest("a") },
        dotted: { [`${CONTENT}.anything-1`]: digest("b"), [`${CONTENT}.config`]: digest("c") },
        slashed: { [`${CONTENT}/anything-1`]: digest("d") },
        bad: { [`${CONTENT}bad`]: digest("e"), [`${CONTENT}_0`]: digest("e"), "containerd.io/gc.ref.stream": digest("e") },
        a: {}, b: {}, c: {}, d: {}, e: {},
      },
      images: {
        app: { target: "exact", labels: { [`${CONTENT}.m.1`]: digest("dotted"), [`${CONTENT}.m.2`]: digest("slashed") } },
        tool: { target: "bad" },
      },
    },
    reachable: ["a", "b", "bad", "c", "d", "dotted", "exact", "slashed"].map((blob) => `content ${blob}`) },
  { name: "snapshot reference label forms",
    objects: {
      content: {
        holder: { [`${SNAPSHOT}btrfs`]: "sn1", [`${SNAPSHOT}overlayfs/first`]: "sn2", [`${SNAPSHOT}overlayfs/2/3`]: "a/b" },
        // An empty snapshotter name matches no record, and a key without the trailing dot is no reference.
        ignored: { [SNAPSHOT]: "sn3", [`${SNAPSHOT}/x`]: "sn3", "containerd.io/gc.ref.snapshot": "sn3" },
      },
      images: { app: { target: "holder" }, tool: { target: "ignored" } },
      snapshots: { "btrfs/sn1": {}, "overlayfs/sn1": {}, "overlayfs/sn2": {}, "overlayfs/a/b": {}, "overlayfs/sn3": {} },
    },
    reachable: ["content holder", "content ignored", "snapshot btrfs/sn1", "snapshot overlayfs/a/b", "snapshot overlayfs/sn2"] },
  { name: "snapshot parent chain kept",
    objects: {
      containers: { web: { snapshotter: "overlayfs", snapshotKey: "sn3" } },
      snapshots: {
        "overlayfs/sn1": {}, "overlayfs/sn2": { parent: "sn1" }, "overlayfs/sn3": { parent: "sn2" },
        "overlayfs/sn4": { parent: "sn1" }, "native/sn1": {},
      },
    },
    reachable: ["snapshot overlayfs/sn1", "snapshot overlayfs/sn2", "snapshot overlayfs/sn3"] },
  { name: "edges chain across kinds",
    objects: {
      images: { app: { target: "index" } },
      content: { index: { [`${SNAPSHOT}overlayfs`]: "sn2" }, config: {}, unused: { [CONTENT]: digest("config") } },
      snapshots: { "overlayfs/sn1": { labels: { [`${CONTENT}.keep-me`]: digest("config") } }, "overlayfs/sn2": { parent: "sn1" } },
    },
    reachable: ["content config", "content index", "snapshot overlayfs/sn1", "snapshot overlayfs/sn2"] },
  { name: "dead edges are ignored",
    objects: {
      images: { app: { target: "missing", labels: { [CONTENT]: digest("gone"), [`${SNAPSHOT}overlayfs`]: "gone" } } },
      containers: { web: { snapshotter: "overlayfs", snapshotKey: "gone" } },
      leases: { l1: { content: ["gone"], snapshots: ["native/gone"] } },
      snapshots: { "overlayfs/sn2": { parent: "gone", labels: { [ROOT]: "yes" } } },
      content: { blob: {} },
    },
    reachable: ["lease l1", "snapshot overlayfs/sn2"] },
  { name: "labels never cross namespaces",
    namespaces: {
      a: {
        images: { app: { target: "index", labels: { [`${SNAPSHOT}overlayfs`]: "sn1" } } },
        leases: { l1: { content: ["blob"] } },
        content: { index: { [CONTENT]: digest("layer") } },
      },
      b: { content: { index: {}, layer: {}, blob: {} }, snapshots: { "overlayfs/sn1": {} } },
    },
    reachable: ["a content index", "a lease l1"] },
]);

const MANIFEST_REFS = { [`${CONTENT}.config`]: digest("config"), [`${CONTENT}.l.0`]: digest("layer") };
const LAYER_CHAIN = {
  "overlayfs/sn1": { labels: { [`${CONTENT}.l.0`]: digest("layer") } },
  "overlayfs/sn2": { parent: "sn1" },
  "overlayfs/sn3": { parent: "sn2", labels: { [`${CONTENT}.l.1`]: digest("config") } },
};

// Flat leases. Leases are scanned in insertion order, so "full" before "flat" makes the
// flat reach happen first and the full reach revisit the node.
runCases([
  { name: "flat lease keeps manifest only",
    objects: {
      leases: { l1: { labels: { [FLAT]: "yes" }, content: ["manifest"] } },
      content: { manifest: MANIFEST_REFS, config: {}, layer: {} },
    },
    reachable: ["content manifest", "lease l1"] },
  { name: "flat lease keeps snapshot ancestors",
    objects: {
      leases: { l1: { labels: { [FLAT]: "2024-05-01T13:00:00Z" }, snapshots: ["overlayfs/sn3"] } },
      snapshots: LAYER_CHAIN,
      content: { config: {}, layer: {} },
    },
    reachable: ["lease l1", "snapshot overlayfs/sn1", "snapshot overlayfs/sn2", "snapshot overlayfs/sn3"] },
  { name: "full reach after flat follows labels",
    objects: {
      leases: { full: { content: ["index"] }, flat: { labels: { [FLAT]: "yes" }, content: ["manifest"] } },
      content: { index: { [`${CONTENT}.m.0`]: digest("manifest") }, manifest: MANIFEST_REFS, config: {}, layer: {} },
    },
    reachable: ["content config", "content index", "content layer", "content manifest", "lease flat", "lease full"] },
  { name: "flat reach after full changes nothing",
    objects: {
      images: { app: { target: "manifest" } },
      leases: { flat: { labels: { [FLAT]: "yes" }, content: ["manifest"] } },
      content: { manifest: MANIFEST_REFS, config: {}, layer: {} },
    },
    reachable: ["content config", "content layer", "content manifest", "lease flat"] },
  { name: "full ancestor after flat follows labels",
    objects: {
      leases: { full: { snapshots: ["overlayfs/sn4"] }, flat: { labels: { [FLAT]: "yes" }, snapshots: ["overlayfs/sn3"] } },
      snapshots: { ...LAYER_CHAIN, "overlayfs/sn4": { parent: "sn2" } },
      content: { config: {}, layer: {} },
    },
    reachable: ["content layer", "lease flat", "lease full", ...[1, 2, 3, 4].map((i) => `snapshot overlayfs/sn${i}`)] },
  // The objects of containerd's TestMetadataCollector, in ctrmeta's terms.
  { name: "mixed roots keep expected records",
    objects: {
      content: {
        b1: {}, b2: {}, b4: { [ROOT]: "2024-05-01 12:00:00" }, b5: { [`${CONTENT}.0`]: digest("b6") }, b6: {}, b7: {},
        b8: { [`${CONTENT}.0`]: digest("b9") }, b9: {}, b10: {},
      },
      snapshots: {
        "native/1": {}, "native/2": { parent: "1" }, "native/3": { parent: "2" },
        "native/4": { parent: "3" }, "native/5": { parent: "3" },
        "native/6": { labels: { [`${CONTENT}.0`]: digest("b7") } },
        "native/7": { labels: { [`${CONTENT}.0`]: digest("b10") } }, "native/8": { parent: "7" }, "native/9": { parent: "8" },
      },
      containers: { c1: { snapshotter: "native", snapshotKey: "4" } },
      images: { "image-1": { target: "b2" } },
      leases: {
        "lease-1": { content: ["b5"], snapshots: ["native/6"] },
        "lease-2": { labels: { [FLAT]: "yes" }, content: ["b8"], snapshots: ["native/9"] },
      },
    },
    reachable: [
      ...["b2", "b4", "b5", "b6", "b7", "b8"].map((blob) => `content ${blob}`),
      "lease lease-1",
      "lease lease-2",
      ...["1", "2", "3", "4", "6", "7", "8", "9"].map((key) => `snapshot native/${key}`),
    ] },
]);

test("images and containers always reachable", () => {
  const state = buildState({ ns: { images: { app: { target: "missing" } }, containers: { web: {} } } });
  const result = mark(state, NOW);
  assert.equal(result.isReachable({ kind: "image", namespace: "ns", key: "app" }), true);
  assert.equal(result.isReachable({ kind: "container", namespace: "ns", key: "web" }), true);
  assert.equal(result.isReachable({ kind: "image", namespace: "ns", key: "other" }), false);
  assert.equal(result.isReachable({ kind: "content", namespace: "other", key: digest("missing") }), false);
});

test("counts report roots and marks", () => {
  const state = buildState({
    ns: {
      images: { app: { target: "index" } },
      containers: { web: {} },
      leases: { live: { content: ["index"] }, old: { labels: { [EXPIRE]: "2020-01-01T00:00:00Z" } } },
      content: { index: { [CONTENT]: digest("layer") }, layer: {}, pinned: { [ROOT]: "1" }, junk: {} },
      snapshots: { "overlayfs/sn1": { labels: { [ROOT]: "1" } }, "overlayfs/sn2": {} },
    },
  });
  const { counts } = mark(state, NOW);
  assert.equal(counts.roots, 5, "image, container, live lease, pinned content, sn1");
  assert.equal(counts.marked, 5, "live lease, index, layer, pinned, sn1");
});

test("explain image manifest layer chain", () => {
  const state = buildState({ ns: { images: { app: { target: "manifest" } }, content: { manifest: MANIFEST_REFS, layer: {}, config: {}, junk: {} } } });
  const result = mark(state, NOW);
  const expected: GcNode[] = [
    { kind: "image", namespace: "ns", key: "app" },
    { kind: "content", namespace: "ns", key: digest("manifest") },
    { kind: "content", namespace: "ns", key: digest("layer") },
  ];
  assert.deepEqual(result.explain({ kind: "content", namespace: "ns", key: digest("layer") }), expected);
  assert.equal(result.explain({ kind: "content", namespace: "ns", key: digest("junk") }), undefined);
});

test("explain lease and parent chains", () => {
  const state = buildState({
    ns: {
      leases: { l1: { content: ["blob"] } },
      containers: { web: { snapshotter: "overlayfs", snapshotKey: "sn2" } },
      snapshots: { "overlayfs/sn1": {}, "overlayfs/sn2": { parent: "sn1" } },
      content: { blob: {}, pinned: { [ROOT]: "yes" } },
    },
  });
  const result = mark(state, NOW);
  assert.deepEqual(result.explain({ kind: "content", namespace: "ns", key: digest("blob") }), [
    { kind: "lease", namespace: "ns", key: "l1" },
    { kind: "content", namespace: "ns", key: digest("blob") },
  ]);
  assert.deepEqual(result.explain({ kind: "snapshot", namespace: "ns", key: "sn1", snapshotter: "overlayfs" }), [
    { kind: "container", namespace: "ns", key: "web" },
    { kind: "snapshot", namespace: "ns", key: "sn2", snapshotter: "overlayfs" },
    { kind: "snapshot", namespace: "ns", key: "sn1", snapshotter: "overlayfs" },
  ]);
  assert.deepEqual(result.explain({ kind: "content", namespace: "ns", key: digest("pinned") }), [
    { kind: "content", namespace: "ns", key: digest("pinned") },
  ]);
  assert.deepEqual(result.explain({ kind: "container", namespace: "ns", key: "web" }), [{ kind: "container", namespace: "ns", key: "web" }]);
  assert.equal(result.explain({ kind: "container", namespace: "ns", key: "gone" }), undefined);
  assert.equal(result.explain({ kind: "container", namespace: "other", key: "web" }), undefined);
});

test("sweep lists garbage in order", () => {
  const expired = { [EXPIRE]: "2020-01-01T00:00:00Z" };
  const state = buildState({
    b: { leases: { old: { labels: expired } }, content: { blob: {} } },
    a: {
      leases: { z: { labels: expired }, live: {}, y: { labels: expired } },
      snapshots: {
        "overlayfs/a-top": { parent: "m-mid" }, "overlayfs/m-mid": { parent: "z-base" }, "overlayfs/z-base": {},
        "overlayfs/b-top": { parent: "m-mid" }, "overlayfs/kept": { parent: "z-kept-base", labels: { [ROOT]: "1" } },
        "overlayfs/z-kept-base": {}, "overlayfs/y-leaf": { parent: "z-kept-base" }, "native/x": {},
      },
      content: { one: {}, two: {}, three: { [ROOT]: "1" } },
    },
  });
  const removals = sweepCandidates(state, mark(state, NOW));
  const [first, second] = [digest("one"), digest("two")].sort();
  assert.deepEqual(removals, [
    { namespace: "a", kind: "lease", key: "y" },
    { namespace: "a", kind: "lease", key: "z" },
    { namespace: "a", kind: "snapshot", key: "x", snapshotter: "native" },
    { namespace: "a", kind: "snapshot", key: "y-leaf", snapshotter: "overlayfs" },
    { namespace: "a", kind: "snapshot", key: "a-top", snapshotter: "overlayfs" },
    { namespace: "a", kind: "snapshot", key: "b-top", snapshotter: "overlayfs" },
    { namespace: "a", kind: "snapshot", key: "m-mid", snapshotter: "overlayfs" },
    { namespace: "a", kind: "snapshot", key: "z-base", snapshotter: "overlayfs" },
    { namespace: "a", kind: "content", key: first },
    { namespace: "a", kind: "content", key: second },
    { namespace: "b", kind: "lease", key: "old" },
    { namespace: "b", kind: "content", key: digest("blob") },
  ]);
});

test("long parent chain marks iteratively", () => {
  const depth = 100_000;
  const snapshots: NamespaceFixture["snapshots"] = { "overlayfs/s0": {} };
  for (let i = 1; i < depth; i++) snapshots[`overlayfs/s${i}`] = { parent: `s${i - 1}` };
  const state = buildState({ ns: { containers: { web: { snapshotter: "overlayfs", snapshotKey: `s${depth - 1}` } }, snapshots } });
  const result = mark(state, NOW);
  assert.equal(result.counts.marked, depth);
  assert.equal(result.explain({ kind: "snapshot", namespace: "ns", key: "s0", snapshotter: "overlayfs" })?.length, depth + 1);
  assert.deepEqual(sweepCandidates(state, result), []);
});
