import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeEnvelope, encodeEnvelope, packValue, unpackValue } from "../../src/events/codec.js";
import { decodeToken, encodeToken, Layout, MAX_TOKEN_LENGTH } from "../../src/nats/subjects.js";

describe("subject tokens", () => {
  const samples = ["default", "a.b", "docker.io/library/nginx:1.25@sha256:abc", "*", ">", "a b", "line\nbreak", "é🙂", "_x", "", "__", "-"];
  for (const sample of samples) {
    it(`round-trips ${JSON.stringify(sample)}`, () => {
      const token = encodeToken(sample);
      assert.match(token, /^[A-Za-z0-9_-]+$/);
      assert.equal(decodeToken(token), sample);
    });
  }

  it("hashes long names", () => {
    const token = encodeToken("x".repeat(MAX_TOKEN_LENGTH + 1));
    assert.equal(token.length, 66);
    assert.ok(token.startsWith("__"));
    assert.equal(decodeToken(token), undefined);
  });

  it("keeps every valid namespace reversible", () => {
    const name = "a.".repeat(37) + "ab";
    assert.equal(decodeToken(encodeToken(name)), name);
  });

  it("rejects malformed tokens", () => {
    for (const token of ["_G1", "a.b", "_2", "a*", "_2e"]) assert.equal(decodeToken(token), undefined, token);
  });

  it("distinct names give distinct subjects", () => {
    const layout = new Layout();
    const a = layout.aggregateSubject("ns", { kind: "container", key: "a.b" });
    const b = layout.aggregateSubject("ns.a", { kind: "container", key: "b" });
    assert.notEqual(a, b);
    assert.equal(a.split(".").length, 5);
  });

  it("topic subjects per component", () => {
    assert.equal(new Layout().topicSubject("default", "/containers/create"), "ctrmeta.topic.default.containers.create");
    assert.equal(new Layout().topicFilter(undefined, "/images/delete"), "ctrmeta.topic.*.images.delete");
  });
});

describe("event codec", () => {
  it("round-trips an envelope with binary and odd keys", () => {
    const labels = Object.create(null) as Record<string, string>;
    labels["__proto__"] = "x";
    labels["a"] = "b";
    const bytes = encodeEnvelope({
      v: 1,
      ev: 1,
      ns: "default",
      time: "2026-01-01T00:00:00.000000000Z",
      req: "r",
      event: { type: "container.deleted", id: "x" },
    });
    assert.equal(decodeEnvelope(bytes).event.type, "container.deleted");
    const value = unpackValue(packValue({ labels, bin: new Uint8Array([1, 2]) })) as { labels: Record<string, string>; bin: Uint8Array };
    assert.deepEqual(Object.keys(value.labels), ["__proto__", "a"]);
    assert.deepEqual([...value.bin], [1, 2]);
  });

  it("rejects an unknown envelope version", () => {
    assert.throws(() => decodeEnvelope(packValue({ v: 99, event: { type: "x" } })), /unsupported envelope version 99/);
  });
});
