import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { CaseFileError, parseCasesFile } from "../../src/runners/case-file.js";
import { NamespaceNames } from "../../src/runners/operations.js";

const spec = { typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: { ociVersion: "1.1.0" } };

function fileWith(step: Record<string, unknown>, caseFields: Record<string, unknown> = {}): unknown {
  return { cases: [{ id: "c1", title: "t", steps: [step], ...caseFields }] };
}

function createStep(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    op: "createContainer",
    namespace: "default",
    args: { container: { id: "web", runtime: { name: "io.containerd.runc.v2" }, spec } },
    expect: { ok: true },
    ...overrides,
  };
}

function assertInvalid(document: unknown, ...parts: string[]): void {
  assert.throws(
    () => parseCasesFile(document, "cases.json"),
    (error: unknown) => {
      assert.ok(error instanceof CaseFileError, String(error));
      for (const part of parts) assert.ok(error.message.includes(part), `${error.message} does not mention ${part}`);
      return true;
    },
  );
}

describe("parseCasesFile", () => {
  it("parses a valid case", () => {
    const [parsed] = parseCasesFile(fileWith(createStep()), "cases.json");
    assert.equal(parsed!.id, "c1");
    assert.equal(parsed!.rawNamespaces, false);
    assert.equal(parsed!.steps[0]!.op, "createContainer");
    assert.equal(parsed!.steps[0]!.namespace, "default");
  });

  it("expands $repeat in args and expectations", () => {
    const step = createStep({
      args: { container: { id: "web", labels: { a: { $repeat: "v", times: 3 } } } },
      expect: { ok: true, record: { labels: { a: { $repeat: "v", times: 3 } } } },
    });
    const [parsed] = parseCasesFile(fileWith(step), "cases.json");
    assert.deepEqual(parsed!.steps[0]!.args, { container: { id: "web", labels: { a: "vvv" } } });
    assert.deepEqual(parsed!.steps[0]!.expect.record, { labels: { a: "vvv" } });
  });

  it("accepts content whose data hashes to the digest", () => {
    const data = "hello";
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    const step = { op: "writeContent", namespace: "default", args: { data, digest, size: 5 }, expect: { ok: true } };
    assert.equal(parseCasesFile(fileWith(step), "cases.json")[0]!.steps[0]!.args.digest, digest);
  });

  it("rejects a file without cases", () => {
    assertInvalid({ vocabulary: {} }, "cases.json", "cases: expected a list");
  });

  it("rejects an unknown operation", () => {
    assertInvalid(fileWith(createStep({ op: "createContaner" })), 'case "c1" step 0', "unknown operation");
  });

  it("rejects a wrong argument type", () => {
    const step = createStep({ args: { container: { id: "web", labels: ["a"] } } });
    assertInvalid(fileWith(step), 'case "c1" step 0 (createContainer)', "args.container.labels", "map of strings");
  });

  it("rejects an unknown argument", () => {
    assertInvalid(fileWith(createStep({ args: { container: {}, extra: 1 } })), "args.extra", "unknown field");
  });

  it("rejects a missing required argument", () => {
    assertInvalid(fileWith({ op: "getContainer", namespace: "default", args: {}, expect: { ok: true } }), "args.id: missing");
  });

  it("rejects a malformed $repeat", () => {
    const step = createStep({ args: { container: { labels: { a: { $repeat: "v", times: -2 } } } } });
    assertInvalid(fileWith(step), "args.container.labels.a", "non-negative integer");
  });

  it("rejects both ok and error", () => {
    assertInvalid(fileWith(createStep({ expect: { ok: true, error: "NotFound" } })), "expect", "exactly one of");
  });

  it("rejects an unknown error kind", () => {
    assertInvalid(fileWith(createStep({ expect: { error: "Missing" } })), "expect.error", '"Missing"');
  });

  it("rejects keys on a record operation", () => {
    assertInvalid(fileWith(createStep({ expect: { ok: true, keys: [] } })), "expect.keys", "not a list operation");
  });

  it("rejects a bad timestamps rule", () => {
    assertInvalid(fileWith(createStep({ expect: { ok: true, timestamps: "later" } })), "expect.timestamps");
  });

  it("rejects content data that does not hash to the digest", () => {
    const step = { op: "writeContent", namespace: "default", args: { data: "hello", digest: `sha256:${"0".repeat(64)}`, size: 5 }, expect: { ok: true } };
    assertInvalid(fileWith(step), "args.digest", "is not the sha256 of args.data");
  });

  it("rejects content data of another size", () => {
    const data = "héllo";
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    const step = { op: "writeContent", namespace: "default", args: { data, digest, size: 5 }, expect: { ok: true } };
    assertInvalid(fileWith(step), "args.size", "which is 6");
  });

  it("rejects duplicate case ids", () => {
    const document = { cases: [{ id: "c1", steps: [createStep()] }, { id: "c1", steps: [createStep()] }] };
    assertInvalid(document, 'case "c1"', "used by an earlier case");
  });

  it("rejects an unknown case field", () => {
    assertInvalid(fileWith(createStep(), { rawNamespace: true }), 'case "c1"', "rawNamespace");
  });

  it("accepts case fields the vocabulary declares", () => {
    const document = { vocabulary: { caseFields: { owner: "who wrote it" } }, cases: [{ id: "c1", owner: "me", steps: [createStep()] }] };
    assert.equal(parseCasesFile(document, "cases.json").length, 1);
  });

  it("rejects a non-string namespace", () => {
    assertInvalid(fileWith(createStep({ namespace: 3 })), "namespace: expected a string");
  });
});

describe("NamespaceNames", () => {
  const names = new NamespaceNames("ab12-3-", "ab12");

  it("prefixes non-empty names", () => {
    assert.equal(names.toStore("team-a"), "ab12-3-team-a");
    assert.equal(names.toStore(""), "");
  });

  it("keeps invalid names invalid", () => {
    assert.equal(names.toStore("-bad"), "ab12-3--bad");
  });

  it("maps only the case's own names back", () => {
    assert.equal(names.fromStore("ab12-3-team-a"), "team-a");
    assert.equal(names.fromStore("ab12-4-team-a"), undefined);
    assert.equal(names.fromStore("default"), undefined);
  });

  it("scrubs the prefix from messages", () => {
    assert.equal(names.scrub('namespace "ab12-3-team-a": not found'), 'namespace "team-a": not found');
  });

  it("raw names hide prefixed namespaces", () => {
    const raw = new NamespaceNames(undefined, "ab12");
    assert.equal(raw.toStore("team-a"), "team-a");
    assert.equal(raw.fromStore("team-a"), "team-a");
    assert.equal(raw.fromStore("ab12-3-team-a"), undefined);
    assert.equal(raw.scrub('namespace "team-a"'), 'namespace "team-a"');
  });
});
