import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { CommandMeta } from "../../src/domain/decision.js";
import { decideCreateImage, decideUpdateImage, type Image } from "../../src/domain/image.js";
import { newNamespaceState } from "../../src/domain/state.js";

const meta: CommandMeta = { namespace: "default", now: "2024-01-01T00:00:00.000000000Z", requestId: "r1" };
const target = {
  mediaType: "application/vnd.oci.image.index.v1+json",
  digest: "sha256:f9e10193c5509e920caa19f3e7f11a640ce2c2acc38bc97c22e68af814ee19cd",
  size: 10242,
};

function kindOf(action: () => unknown): string | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return (error as { kind?: string }).kind ?? "thrown";
  }
}

describe("image annotation keys", () => {
  it("create rejects an empty key with a value", () => {
    const input = { name: "nginx", target: { ...target, annotations: { "": "x" } } };
    assert.throws(() => decideCreateImage(undefined, input, meta), {
      message: 'image.Target.Annotations: annotation key "" must not be empty (value "x"): invalid argument',
    });
  });

  it("create drops an empty key without a value", () => {
    const input = { name: "nginx", target: { ...target, annotations: { "": "" } } };
    assert.deepEqual({ ...decideCreateImage(undefined, input, meta).result.target.annotations }, {});
  });

  it("digest error comes before the key error", () => {
    const input = { name: "nginx", target: { ...target, digest: "sha256:bad", annotations: { "": "x" } } };
    assert.throws(() => decideCreateImage(undefined, input, meta), /Target\.Digest/);
  });

  it("update rejects an empty key with a value", () => {
    const namespace = newNamespaceState("default");
    const stored: Image = decideCreateImage(undefined, { name: "nginx", target }, meta).result;
    namespace.images.set("nginx", stored);
    const input = { name: "nginx", target: { ...target, annotations: { "": "x" } } };
    assert.equal(kindOf(() => decideUpdateImage(namespace, input, ["annotations"], meta)), "InvalidArgument");
    assert.equal(kindOf(() => decideUpdateImage(namespace, input, ["annotations."], meta)), "InvalidArgument");
    assert.equal(kindOf(() => decideUpdateImage(namespace, input, [], meta)), "InvalidArgument");
  });
});
