/**
 * Runs every case of the conformance cases file against a real embedded ctrmeta
 * through the conformance runner, one test per case.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { loadCasesFile, type Case } from "../../src/runners/case-file.js";
import { ConformanceRun } from "../../src/runners/conformance.js";

// Compiled to dist/test/integration/, the cases file stays in the source tree.
const CASES_FILE = fileURLToPath(new URL("../../../test/data/conformance-cases.json", import.meta.url));
const cases = loadCasesFile(CASES_FILE);

describe("conformance cases", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await ConformanceRun.start();
  });
  after(async () => {
    await run?.close();
  });

  for (const testCase of cases) {
    it(testCase.id, async () => {
      const result = await run.runCase(testCase);
      assert.equal(result.status, "ok", `${testCase.title}\n${result.detail ?? ""}`);
    });
  }
});

describe("conformance runner", () => {
  let run: ConformanceRun;
  before(async () => {
    run = await ConformanceRun.start();
  });
  after(async () => {
    await run?.close();
  });

  const spec = { typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: { ociVersion: "1.1.0" } };

  function testCase(id: string, steps: Case["steps"], rawNamespaces = false): Case {
    return { id, title: id, rawNamespaces, steps };
  }

  it("reports the first differing step", async () => {
    const result = await run.runCase(
      testCase("wrong-kind", [
        { index: 0, op: "getContainer", namespace: "default", args: { id: "web" }, expect: { error: "NotFound" } },
        { index: 1, op: "getContainer", namespace: "default", args: { id: "web" }, expect: { error: "InvalidArgument" } },
      ]),
    );
    assert.equal(result.status, "fail");
    assert.match(result.detail ?? "", /^step 1 getContainer: expected InvalidArgument, got NotFound/);
  });

  it("runs raw namespaces without a prefix", async () => {
    const name = `raw${Date.now()}`;
    const result = await run.runCase(
      testCase(
        "raw",
        [
          { index: 0, op: "createNamespace", namespace: name, args: { namespace: { name } }, expect: { ok: true, record: { name } } },
          { index: 1, op: "listNamespaces", args: {}, expect: { ok: true, keys: [name] } },
          { index: 2, op: "deleteNamespace", namespace: name, args: { name }, expect: { ok: true } },
        ],
        true,
      ),
    );
    assert.deepEqual(result, { id: "raw", status: "ok" });
  });

  it("isolates prefixed cases", async () => {
    const create = { index: 0, op: "createContainer" as const, namespace: "team-a", args: { container: { id: "web", runtime: { name: "r" }, spec } }, expect: { ok: true as const } };
    const list = { index: 1, op: "listNamespaces" as const, args: {}, expect: { ok: true as const, keys: ["team-a"] } };
    assert.equal((await run.runCase(testCase("first", [create, list]))).status, "ok");
    assert.equal((await run.runCase(testCase("second", [create, list]))).status, "ok");
  });

  it("runs a gc step", async () => {
    const result = await run.runCase(testCase("gc", [{ index: 0, op: "gc", args: {}, expect: { ok: true } }]));
    assert.deepEqual(result, { id: "gc", status: "ok" });
  });
});
