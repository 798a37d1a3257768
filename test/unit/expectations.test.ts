import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkOutcome,
  compareRecord,
  expandRepeats,
  RepeatError,
  type Expectation,
  type Json,
  type Outcome,
} from "../../src/runners/expectations.js";

const SPEC_URL = "types.containerd.io/opencontainers/runtime-spec/1/Spec";
const spec = { ociVersion: "1.1.0", process: { args: ["nginx"], cwd: "/" } };
const specBase64 = Buffer.from(JSON.stringify(spec)).toString("base64");

interface RecordCase {
  name: string;
  expected: Record<string, unknown>;
  actual: Record<string, unknown>;
  /** Substring of the first difference, or undefined when the record must match. */
  difference?: string;
}

const recordCases: RecordCase[] = [
  // Subset rules.
  { name: "unlisted fields ignored", expected: { id: "web" }, actual: { id: "web", image: "nginx", createdAt: "x" } },
  { name: "scalar differs", expected: { image: "nginx" }, actual: { image: "alpine" }, difference: "record.image" },
  { name: "nested object is a subset", expected: { runtime: { name: "io.containerd.runc.v2" } }, actual: { runtime: { name: "io.containerd.runc.v2", options: { typeUrl: "t" } } } },
  { name: "nested field differs", expected: { target: { size: 10 } }, actual: { target: { size: 11 } }, difference: "record.target.size" },
  { name: "int64 as decimal string", expected: { size: 400 }, actual: { size: "400" } },
  { name: "array compares in order", expected: { list: ["a", "b"] }, actual: { list: ["b", "a"] }, difference: "record.list[0]" },
  // proto3 defaults.
  { name: "empty string equals absent", expected: { snapshotter: "" }, actual: {} },
  { name: "zero equals absent", expected: { size: 0 }, actual: {} },
  { name: "null equals empty string", expected: { snapshotKey: null }, actual: { snapshotKey: "" } },
  { name: "false equals absent", expected: { sync: false }, actual: {} },
  { name: "value is not absent", expected: { sandbox: "pod" }, actual: {}, difference: "record.sandbox" },
  { name: "default is not a value", expected: { sandbox: "" }, actual: { sandbox: "pod" }, difference: "record.sandbox" },
  { name: "null spec is not a present spec", expected: { spec: null }, actual: { spec: { typeUrl: SPEC_URL } }, difference: "record.spec" },
  // Exact maps.
  { name: "labels equal", expected: { labels: { app: "web" } }, actual: { labels: { app: "web" } } },
  { name: "labels extra key", expected: { labels: { app: "web" } }, actual: { labels: { app: "web", tier: "x" } }, difference: "unexpected keys" },
  { name: "labels missing key", expected: { labels: { app: "web", tier: "x" } }, actual: { labels: { app: "web" } }, difference: "missing keys" },
  { name: "labels value differs", expected: { labels: { app: "web" } }, actual: { labels: { app: "db" } }, difference: 'record.labels["app"]' },
  { name: "absent labels are empty", expected: { labels: {} }, actual: {} },
  { name: "null labels are empty", expected: { labels: null }, actual: { labels: {} } },
  { name: "nested annotations are exact", expected: { target: { annotations: {} } }, actual: { target: { annotations: { a: "b" } } }, difference: "record.target.annotations" },
  {
    name: "extensions exact with Any values",
    expected: { extensions: { owner: { typeUrl: "t", value: { a: 1 } } } },
    actual: { extensions: { owner: { typeUrl: "t", value: { a: 1 } }, other: { typeUrl: "t" } } },
    difference: "unexpected keys",
  },
  {
    name: "extension Any value differs",
    expected: { extensions: { owner: { typeUrl: "t", value: { a: 1 } } } },
    actual: { extensions: { owner: { typeUrl: "t", value: { a: 2 } } } },
    difference: 'record.extensions["owner"].value',
  },
  // Any comparison.
  { name: "Any value as parsed JSON", expected: { spec: { typeUrl: SPEC_URL, value: spec } }, actual: { spec: { typeUrl: SPEC_URL, value: { process: { cwd: "/", args: ["nginx"] }, ociVersion: "1.1.0" } } } },
  { name: "Any value from base64 bytes", expected: { spec: { typeUrl: SPEC_URL, value: spec } }, actual: { spec: { typeUrl: SPEC_URL, valueBase64: specBase64 } } },
  { name: "Any value differs", expected: { spec: { typeUrl: SPEC_URL, value: { ociVersion: "1.0.0" } } }, actual: { spec: { typeUrl: SPEC_URL, value: spec } }, difference: "record.spec.value" },
  { name: "Any value not JSON", expected: { spec: { typeUrl: SPEC_URL, value: spec } }, actual: { spec: { typeUrl: SPEC_URL, valueBase64: "MgRydW5jSAE=" } }, difference: "not JSON" },
  { name: "Any typeUrl differs", expected: { spec: { typeUrl: SPEC_URL } }, actual: { spec: { typeUrl: "other" } }, difference: "record.spec.typeUrl" },
  { name: "Any typeUrl only", expected: { spec: { typeUrl: SPEC_URL } }, actual: { spec: { typeUrl: SPEC_URL, value: spec } } },
  { name: "Any bytes exact", expected: { options: { typeUrl: "o", valueBase64: "MgRydW5jSAE=" } }, actual: { options: { typeUrl: "o", valueBase64: "MgRydW5jSAE=" } } },
  { name: "Any bytes differ", expected: { options: { typeUrl: "o", valueBase64: "MgRydW5jSAE=" } }, actual: { options: { typeUrl: "o", valueBase64: "MgRydW5j" } }, difference: "record.options.valueBase64" },
  { name: "Any bytes of a JSON value", expected: { spec: { typeUrl: SPEC_URL, valueBase64: specBase64 } }, actual: { spec: { typeUrl: SPEC_URL, value: spec } } },
  { name: "Any expected but absent", expected: { spec: { typeUrl: SPEC_URL } }, actual: {}, difference: "record.spec.typeUrl" },
];

describe("compareRecord", () => {
  for (const { name, expected, actual, difference } of recordCases) {
    it(name, () => {
      const differences = compareRecord(expected, actual);
      if (difference === undefined) {
        assert.deepEqual(differences, []);
      } else {
        assert.ok(differences.length > 0, "expected a difference");
        assert.ok(differences[0]!.includes(difference), `${differences[0]} does not mention ${difference}`);
      }
    });
  }
});

describe("expandRepeats", () => {
  it("expands nested values and lists", () => {
    const value: Json = { labels: { a: { $repeat: "x", times: 3 } }, list: [{ $repeat: "ab", times: 2 }] };
    assert.deepEqual(expandRepeats(value), { labels: { a: "xxx" }, list: ["abab"] });
  });

  it("repeats multi-byte strings by characters", () => {
    const expanded = expandRepeats({ $repeat: "é", times: 2048 });
    assert.equal(typeof expanded, "string");
    assert.equal(Buffer.byteLength(expanded as string, "utf8"), 4096);
  });

  it("expands zero times to empty", () => {
    assert.equal(expandRepeats({ $repeat: "x", times: 0 }), "");
  });

  it("leaves other objects unchanged", () => {
    const value: Json = { labels: { "x$repeat": "v" }, times: 2 };
    assert.deepEqual(expandRepeats(value), value);
  });

  it("keeps a __proto__ key as data", () => {
    const value = JSON.parse('{"labels": {"__proto__": "x"}}') as Json;
    const expanded = expandRepeats(value) as { labels: Record<string, string> };
    assert.ok(Object.hasOwn(expanded.labels, "__proto__"));
  });

  const malformed: Array<[string, Json, string]> = [
    ["negative times", { $repeat: "x", times: -1 }, "times must be a non-negative integer"],
    ["fractional times", { $repeat: "x", times: 1.5 }, "times must be a non-negative integer"],
    ["missing times", { $repeat: "x" }, "times must be a non-negative integer"],
    ["non-string text", { $repeat: 5, times: 1 }, "$repeat must be a string"],
    ["extra key", { $repeat: "x", times: 1, other: 1 }, '"other"'],
  ];
  for (const [name, value, message] of malformed) {
    it(`rejects ${name}`, () => {
      assert.throws(() => expandRepeats({ labels: { a: value } }, "args"), (error: unknown) => {
        assert.ok(error instanceof RepeatError);
        assert.equal(error.path, "args.labels.a");
        assert.ok(error.message.includes(message), error.message);
        return true;
      });
    });
  }
});

describe("checkOutcome", () => {
  const ok: Outcome = { ok: true };
  const notFound: Outcome = { ok: false, kind: "NotFound", message: 'container "web": not found' };
  const cases: Array<[string, Expectation, Outcome, string | undefined]> = [
    ["ok matches ok", { ok: true }, ok, undefined],
    ["ok against an error", { ok: true }, notFound, 'expected ok, got NotFound: "container \\"web\\": not found"'],
    ["error against ok", { error: "NotFound" }, ok, "expected NotFound, got ok"],
    ["error kind matches", { error: "NotFound" }, notFound, undefined],
    ["error kind differs", { error: "InvalidArgument" }, notFound, "expected InvalidArgument, got NotFound"],
    ["message contains", { error: "NotFound", messageContains: '"web"' }, notFound, undefined],
    ["message lacks text", { error: "NotFound", messageContains: "db" }, notFound, 'expected the message to contain "db"'],
    ["keys in order", { ok: true, keys: ["a", "b"] }, { ok: true, keys: ["a", "b"], list: [{}, {}] }, undefined],
    ["keys out of order", { ok: true, keys: ["b", "a"] }, { ok: true, keys: ["a", "b"], list: [{}, {}] }, "keys: expected"],
    ["count matches", { ok: true, count: 2 }, { ok: true, keys: ["a", "b"], list: [{}, {}] }, undefined],
    ["count differs", { ok: true, count: 1 }, { ok: true, keys: ["a", "b"], list: [{}, {}] }, "count: expected 1, got 2"],
    ["records subset", { ok: true, records: [{ labels: { a: "b" } }] }, { ok: true, list: [{ id: "x", labels: { a: "b" } }] }, undefined],
    ["records length", { ok: true, records: [{}] }, { ok: true, list: [] }, "records: expected 1 records, got 0"],
    ["records field", { ok: true, records: [{ labels: {} }] }, { ok: true, list: [{ labels: { a: "b" } }] }, "records[0].labels"],
    ["resources exact", { ok: true, resources: [{ id: "k", type: "snapshots/native" }] }, { ok: true, resources: [{ id: "k", type: "snapshots/native" }] }, undefined],
    ["resources differ", { ok: true, resources: [] }, { ok: true, resources: [{ id: "k", type: "ingests" }] }, "resources: expected []"],
    ["record missing", { ok: true, record: { id: "web" } }, ok, "record: the operation returned no record"],
  ];
  for (const [name, expect, outcome, difference] of cases) {
    it(name, () => {
      const result = checkOutcome(expect, outcome);
      if (difference === undefined) assert.equal(result, undefined);
      else assert.ok(result?.includes(difference), `${result} does not contain ${difference}`);
    });
  }

  const created = "2024-01-01T00:00:00.000000001Z";
  const later = "2024-01-01T00:00:00.000000002Z";
  it("timestamps equal", () => {
    assert.equal(checkOutcome({ ok: true, timestamps: "equal" }, { ok: true, record: { createdAt: created, updatedAt: created } }), undefined);
    assert.ok(checkOutcome({ ok: true, timestamps: "equal" }, { ok: true, record: { createdAt: created, updatedAt: later } })?.includes("createdAt == updatedAt"));
  });

  it("timestamps updated after created", () => {
    const rule: Expectation = { ok: true, timestamps: "updatedAfterCreated" };
    assert.equal(checkOutcome(rule, { ok: true, record: { createdAt: created, updatedAt: later } }), undefined);
    assert.ok(checkOutcome(rule, { ok: true, record: { createdAt: created, updatedAt: created } })?.includes("updatedAt > createdAt"));
  });

  it("timestamps missing", () => {
    assert.ok(checkOutcome({ ok: true, timestamps: "equal" }, { ok: true, record: {} })?.includes("expected RFC 3339"));
  });
});
