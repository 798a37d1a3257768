import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { JSON_CODEC, MSGPACK_CODEC } from "../../src/api/codec.js";
import { JsonBytes, stringifyBody, withParsedJson } from "../../src/api/json-bytes.js";
import { encodeContainer } from "../../src/api/wire.js";
import type { Container } from "../../src/domain/container.js";
import { anyFromJson, isCompactJson } from "../../src/domain/any.js";
import { Unpackr } from "msgpackr";

const encoder = new TextEncoder();
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: false });

/** Decode MessagePack into plain objects, keeping a `__proto__` key as data. */
function decodeValue(data: Uint8Array): unknown {
  const plain = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(plain);
    if (!(value instanceof Map)) return value;
    const out: Record<string, unknown> = {};
    for (const [key, item] of value) Object.defineProperty(out, String(key), { value: plain(item), enumerable: true, writable: true, configurable: true });
    return out;
  };
  return plain(unpackr.unpack(data));
}
const STAMP = "2024-05-01T00:00:00.000000000Z";

function container(spec: Uint8Array | undefined): Container {
  const record: Container = {
    id: "c",
    labels: { "__proto__": "kept", app: "web" },
    image: "docker.io/library/nginx:latest",
    runtime: { name: "io.containerd.runc.v2" },
    snapshotter: "overlayfs",
    snapshotKey: "c",
    extensions: {},
    sandbox: "",
    createdAt: STAMP,
    updatedAt: STAMP,
  };
  if (spec) record.spec = { typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: spec };
  return record;
}

const SPECS: Record<string, Uint8Array> = {
  "compact JSON": encoder.encode(JSON.stringify({ ociVersion: "1.1.0", process: { args: ["sh", "-c", "echo \u0000 \"quoted\""] }, n: [1, 2.5, -0, 1e21] })),
  "JSON with spaces": encoder.encode('{ "ociVersion": "1.1.0" }'),
  "JSON with a duplicate key": encoder.encode('{"a":1,"a":2}'),
  "JSON numbers not in shortest form": encoder.encode('{"a":1.0}'),
  "not UTF-8": Uint8Array.of(0xff, 0xfe, 0x00),
  "not JSON": encoder.encode("spec"),
  empty: new Uint8Array(),
};

describe("JSON bytes in replies", () => {
  for (const [name, spec] of Object.entries(SPECS)) {
    it(`reply with ${name} spec unchanged`, () => {
      const record = container(spec);
      const expected = JSON.stringify(encodeContainer(record));
      assert.equal(stringifyBody({ container: encodeContainer(record, true) }), `{"container":${expected}}`);
      assert.deepEqual(decodeValue(MSGPACK_CODEC.encode({ container: encodeContainer(record, true) })), { container: JSON.parse(expected) });
    });
  }

  it("request spec spliced without parsing", () => {
    const spec = anyFromJson("types.containerd.io/opencontainers/runtime-spec/1/Spec", { b: [true, null], a: "x" });
    assert.ok(isCompactJson(spec.value));
    const body = encodeContainer({ ...container(undefined), spec }, true);
    assert.ok((body.spec as { value: unknown }).value instanceof JsonBytes);
    assert.match(stringifyBody(body), /"spec":\{"typeUrl":"[^"]+","value":\{"b":\[true,null\],"a":"x"\}\}/);
  });

  it("placeholder-like user string kept", () => {
    const bytes = new JsonBytes(encoder.encode('{"k":1}'));
    const body = { labels: { a: "\u0000000000000000000000000000:0" }, spec: bytes, list: [bytes, "\u0000:0"] };
    const text = stringifyBody(body);
    assert.deepEqual(JSON.parse(text), { labels: { a: "\u0000000000000000000000000000:0" }, spec: { k: 1 }, list: [{ k: 1 }, "\u0000:0"] });
  });

  it("other serializers get parsed value", () => {
    const bytes = new JsonBytes(encoder.encode('{"k":[1,2]}'));
    assert.equal(JSON.stringify({ spec: bytes }), '{"spec":{"k":[1,2]}}');
  });

  it("withParsedJson copies minimally, keeps __proto__", () => {
    const untouched = { a: [1, { b: 2 }] };
    const labels = JSON.parse('{"__proto__":"x"}') as Record<string, unknown>;
    const body = { untouched, labels, spec: new JsonBytes(encoder.encode("[1]")) };
    const converted = withParsedJson(body) as typeof body;
    assert.equal(converted.untouched, untouched);
    assert.equal(converted.labels, labels);
    assert.deepEqual(converted.spec, [1]);
    assert.ok(body.spec instanceof JsonBytes);
    const nested = withParsedJson(JSON.parse('{"__proto__":{"v":null}}')) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(nested), Object.prototype);
  });

  it("the JSON codec splices list items", () => {
    const items = [encodeContainer(container(SPECS["compact JSON"]), true), encodeContainer(container(SPECS["not JSON"]), true)];
    const [whole] = JSON_CODEC.encodeList("containers", items, Number.POSITIVE_INFINITY);
    const expected = { containers: [encodeContainer(container(SPECS["compact JSON"])), encodeContainer(container(SPECS["not JSON"]))] };
    assert.equal(new TextDecoder().decode(whole), JSON.stringify(expected));
  });
});
