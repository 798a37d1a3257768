import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { commitFromWrite, recordedKind, skipReason } from "../../src/runners/replay-calls.js";
import { compareBodies, diffValues, IdMap, MASKED_TIME, normalize } from "../../src/runners/replay-compare.js";
import { bodyFromProtoJson, camelCase, fromProtoJson, newConversionNotes, shortMethod } from "../../src/runners/replay-convert.js";
import { matchEvents, prepareExpectedEvents, type ActualEvent } from "../../src/runners/replay-events.js";

describe("fromProtoJson", () => {
  it("renames message fields to lowerCamelCase", () => {
    assert.equal(camelCase("snapshot_key"), "snapshotKey");
    assert.deepEqual(fromProtoJson({ snapshot_key: "k", update_mask: { paths: ["labels.a"] } }), {
      snapshotKey: "k",
      updateMask: { paths: ["labels.a"] },
    });
  });

  it("keeps map keys and empty map values", () => {
    const converted = fromProtoJson({ labels: { "com.example/some_key": "", env: "dev" }, target: { annotations: { a_b: "1" } } });
    assert.deepEqual(converted, { labels: { "com.example/some_key": "", env: "dev" }, target: { annotations: { a_b: "1" } } });
  });

  it("turns int64 strings into numbers only for int64 fields", () => {
    assert.deepEqual(fromProtoJson({ size: "475", total: "0", labels: { size: "12" }, id: "123" }), {
      size: 475,
      total: 0,
      labels: { size: "12" },
      id: "123",
    });
  });

  it("converts timestamps and drops Go's zero time", () => {
    const converted = fromProtoJson({
      created_at: { seconds: "1796415095", nanos: 386984950 },
      updated_at: { seconds: "-62135596800", nanos: 0 },
    });
    assert.deepEqual(converted, { createdAt: "2026-12-04T20:11:35.386984950Z" });
  });

  it("drops null fields", () => {
    assert.deepEqual(fromProtoJson({ runtime: null, spec: null, id: "web" }), { id: "web" });
  });

  it("lower-cases snapshot kinds", () => {
    assert.deepEqual(fromProtoJson({ kind: "COMMITTED" }), { kind: "committed" });
    assert.deepEqual(fromProtoJson({ kind: "unary" }), { kind: "unary" });
  });

  it("converts a JSON Any to typeUrl and decoded value", () => {
    const spec = { ociVersion: "1.0.2-dev", process: { no_new_privileges: true } };
    const converted = bodyFromProtoJson({ spec: { type_url: "types.containerd.io/x", encoding: "json", value: spec } });
    // The inside of an Any is data: no renaming.
    assert.deepEqual(converted, { spec: { typeUrl: "types.containerd.io/x", value: spec } });
  });

  it("records protobuf Any types sent as decoded JSON", () => {
    const notes = newConversionNotes();
    const options = { type_url: "containerd.runc.v1.Options", encoding: "protobuf", type: "containerd.runc.v1.Options", value: { io_uid: 0 } };
    const converted = fromProtoJson({ runtime: { name: "io.containerd.runc.v2", options } }, notes);
    assert.deepEqual(converted, { runtime: { name: "io.containerd.runc.v2", options: { typeUrl: "containerd.runc.v1.Options", value: { io_uid: 0 } } } });
    assert.deepEqual([...notes.protobufAnyTypes], ["containerd.runc.v1.Options"]);
  });

  it("keeps undecoded Any bytes as base64", () => {
    assert.deepEqual(fromProtoJson({ type_url: "x", value: "AAEC" }), { typeUrl: "x", valueBase64: "AAEC" });
  });

  it("converts Any values inside extensions", () => {
    const converted = fromProtoJson({ extensions: { ext_1: { type_url: "t", encoding: "json", value: { a: 1 } } } });
    assert.deepEqual(converted, { extensions: { ext_1: { typeUrl: "t", value: { a: 1 } } } });
  });
});

describe("shortMethod", () => {
  it("keeps service and method", () => {
    assert.equal(shortMethod("/containerd.services.containers.v1.Containers/Create"), "Containers/Create");
  });
});

describe("normalize", () => {
  it("drops proto3 defaults", () => {
    assert.equal(normalize({ labels: {}, name: "" }), undefined);
    assert.deepEqual(normalize({ id: "a", image: "", extensions: {}, size: 0, list: [] }), { id: "a" });
  });

  it("masks timestamps and timestamp labels", () => {
    const normalized = normalize({ createdAt: "2026-12-04T20:11:35Z", labels: { "containerd.io/gc.expire": "2026-12-05T20:11:35Z", a: "1" } });
    assert.deepEqual(normalized, { createdAt: MASKED_TIME, labels: { "containerd.io/gc.expire": MASKED_TIME, a: "1" } });
  });

  it("keeps label entries with empty values", () => {
    assert.deepEqual(normalize({ labels: { owner: "" } }), { labels: { owner: "" } });
  });

  it("compares the inside of an Any exactly", () => {
    assert.deepEqual(normalize({ spec: { typeUrl: "t", value: { allow: false, list: [] } } }), {
      spec: { typeUrl: "t", value: { allow: false, list: [] } },
    });
  });
});

describe("diffValues", () => {
  it("names each differing path", () => {
    const lines = diffValues({ labels: { tier: "x" }, id: "a" }, { labels: {}, id: "b" });
    assert.deepEqual(lines, ['id: expected "a", got "b"', 'labels.tier: expected "x", got absent']);
  });

  it("quotes keys that are not identifiers", () => {
    assert.deepEqual(diffValues({ labels: { "a.b": "1" } }, { labels: { "a.b": "2" } }), ['labels["a.b"]: expected "1", got "2"']);
  });

  it("reports list length and items", () => {
    assert.deepEqual(diffValues([1, 2], [1]), ["value: expected 2 items, got 1"]);
  });

  it("ignores order of map keys and masked timestamps", () => {
    const expected = { labels: { a: "1", b: "2" }, createdAt: "2026-12-04T20:11:35Z" };
    const actual = { createdAt: "2030-01-01T00:00:00Z", labels: { b: "2", a: "1" } };
    assert.deepEqual(compareBodies(expected, actual), []);
  });

  it("reports a timestamp present on one side only", () => {
    assert.deepEqual(compareBodies({ id: "a" }, { id: "a", updatedAt: "2030-01-01T00:00:00Z" }), [
      `updatedAt: expected absent, got "${MASKED_TIME}"`,
    ]);
  });
});

describe("IdMap", () => {
  it("replaces recorded ids at any depth", () => {
    const ids = new IdMap();
    ids.learn("1-abcd", "2-wxyz");
    assert.deepEqual(ids.apply({ lease: { id: "1-abcd" }, list: ["1-abcd", "other"] }), { lease: { id: "2-wxyz" }, list: ["2-wxyz", "other"] });
    assert.equal(ids.translate("unknown"), "unknown");
  });

  it("ignores ids that did not change", () => {
    const ids = new IdMap();
    ids.learn("same", "same");
    assert.equal(ids.size, 0);
  });
});

describe("commitFromWrite", () => {
  const data = Buffer.from("hello\n");
  const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;

  it("uses the expected digest and the commit total", () => {
    const requests = [{ action: "COMMIT", expected: "sha256:" + "a".repeat(64), total: 101, data: data.toString("base64"), labels: { k: "v" } }];
    assert.deepEqual(commitFromWrite(requests, []), { digest: "sha256:" + "a".repeat(64), size: 101, labels: { k: "v" } });
  });

  it("hashes the bytes sent when no digest is expected", () => {
    const requests = [
      { action: "STAT", ref: "r", total: 6 },
      { action: "WRITE", data: data.toString("base64"), total: 0 },
      { action: "COMMIT", total: 0, labels: {} },
    ];
    assert.deepEqual(commitFromWrite(requests, []), { digest, size: 6, labels: {} });
  });

  it("falls back to the recorded digest and the byte count", () => {
    const requests = [{ action: "COMMIT", total: 0 }];
    assert.deepEqual(commitFromWrite(requests, [{ digest }]), { digest, size: 0 });
  });

  it("returns nothing for a stream without COMMIT", () => {
    assert.equal(commitFromWrite([{ action: "STAT", ref: "r" }], []), undefined);
  });
});

describe("recordedKind and skipReason", () => {
  it("maps statuses to error kinds", () => {
    assert.equal(recordedKind({ code: 0, grpc: "OK" }), "OK");
    assert.equal(recordedKind({ code: 5, grpc: "NOT_FOUND", errdefs: "NotFound" }), "NotFound");
    assert.equal(recordedKind({ code: 9, grpc: "FAILED_PRECONDITION" }), "FailedPrecondition");
  });

  it("skips byte transfers and non-metadata calls", () => {
    assert.match(skipReason("Content/Read") ?? "", /byte transfer/);
    assert.match(skipReason("Snapshots/Mounts") ?? "", /node-local/);
    assert.match(skipReason("Tasks/Get") ?? "", /not metadata/);
    assert.match(skipReason("Version/Version") ?? "", /not metadata/);
    assert.equal(skipReason("Containers/Create"), undefined);
    assert.equal(skipReason("Content/Write"), undefined);
  });
});

describe("event matching", () => {
  const recorded = [
    { seq: 1, timestamp: "", namespace: "default", topic: "/namespaces/create", type_url: "containerd.events.NamespaceCreate", event: { name: "ns1", labels: {} } },
    { seq: 2, timestamp: "", namespace: "ns1", topic: "/snapshot/prepare", type_url: "containerd.events.SnapshotPrepare", event: { key: "k", parent: "" } },
    { seq: 3, timestamp: "", namespace: "ns1", topic: "/images/delete", type_url: "containerd.services.images.v1.ImageDelete", event: { name: "img" } },
    { seq: 4, timestamp: "", namespace: "ns1", topic: "/containers/delete", type_url: "containerd.events.ContainerDelete", event: { id: "gone" } },
  ];
  const actual = (index: number, namespace: string, topic: string, typeUrl: string, payload: unknown, sourceSeq = index): ActualEvent => ({
    index,
    namespace,
    topic,
    typeUrl,
    payload,
    sourceSeq,
  });

  it("applies the departures to the recorded events", () => {
    const { expected, departures } = prepareExpectedEvents(recorded);
    assert.equal(expected[0]!.namespace, "ns1");
    assert.equal(expected[1]!.withoutSnapshotter, true);
    assert.deepEqual(departures.map((departure) => departure.labels), [["#1 default->ns1"], ["#2"]]);
  });

  it("classifies matched, differing, missing and extra events", () => {
    const { expected } = prepareExpectedEvents(recorded);
    const results = matchEvents(
      expected,
      [
        actual(1, "ns1", "/namespaces/create", "containerd.events.NamespaceCreate", { name: "ns1" }),
        actual(2, "ns1", "/snapshot/prepare", "containerd.events.SnapshotPrepare", { key: "k", snapshotter: "native" }),
        actual(3, "ns1", "/images/delete", "containerd.events.ImageDelete", { name: "img" }),
        actual(4, "ns1", "/snapshot/remove", "containerd.events.SnapshotRemove", { key: "x", snapshotter: "native" }, 40),
        actual(5, "ns1", "/content/delete", "containerd.events.ContentDelete", { digest: "d" }, 50),
      ],
      new Set([40]),
    );
    const byLabel = new Map(results.map((result) => [result.label, result]));
    assert.equal(byLabel.get("#1")?.kind, "matched");
    assert.equal(byLabel.get("#2")?.kind, "matched");
    assert.equal(byLabel.get("#3")?.kind, "differs");
    assert.match(byLabel.get("#3")?.detail ?? "", /typeUrl: expected "containerd.services.images.v1.ImageDelete"/);
    assert.equal(byLabel.get("#4")?.kind, "missing");
    assert.equal(byLabel.get("+4")?.kind, "extra-gc");
    assert.equal(byLabel.get("+5")?.kind, "extra");
  });

  it("requires a snapshotter where the departure applies", () => {
    const { expected } = prepareExpectedEvents([recorded[1]!]);
    const results = matchEvents(expected, [actual(1, "ns1", "/snapshot/prepare", "containerd.events.SnapshotPrepare", { key: "k" })], new Set());
    assert.equal(results[0]?.kind, "differs");
    assert.match(results[0]?.detail ?? "", /snapshotter: expected a snapshotter name/);
  });
});
