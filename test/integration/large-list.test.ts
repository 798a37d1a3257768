import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InvalidArgument } from "../../src/domain/errors.js";
import { startStack, type Stack } from "../helpers/nats.js";

const COUNT = 10_000;
/** An OCI spec of about 8 KB, as large specs are in practice. */
const SPEC = {
  typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec",
  value: { ociVersion: "1.1.0", process: { args: ["sh"], env: Array.from({ length: 160 }, (_, i) => `VARIABLE_${i}=${"v".repeat(32)}`) } },
};

describe("large lists", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ gc: false });
    const ids = Array.from({ length: COUNT }, (_, i) => `big-${String(i).padStart(5, "0")}`);
    for (let start = 0; start < COUNT; start += 200) {
      await Promise.all(
        ids.slice(start, start + 200).map((id, i) =>
          stack.client.containers.create({ id, runtime: { name: "r" }, spec: SPEC, labels: { parity: (start + i) % 2 === 0 ? "even" : "odd" } }),
        ),
      );
    }
  });
  after(async () => {
    await stack?.close();
  });

  it("lists ten thousand 8 KB containers in chunks", async () => {
    const specBytes = JSON.stringify(SPEC).length;
    assert.ok(specBytes > 7000, `spec is ${specBytes} bytes`);
    let chunks = 0;
    let firstChunkAt = 0;
    const started = performance.now();
    const ids: string[] = [];
    for await (const chunk of stack.client.containers.listChunks()) {
      chunks++;
      if (chunks === 1) firstChunkAt = performance.now() - started;
      ids.push(...chunk.map((record) => record.id));
    }
    const total = performance.now() - started;
    assert.equal(ids.length, COUNT);
    assert.deepEqual(ids, [...ids].sort(), "byte order across chunks");
    assert.ok(chunks > 80, `${chunks} chunks`);
    assert.ok(firstChunkAt < total, "the first chunk arrives before the list ends");
  });

  it("filters apply before chunking", async () => {
    const even = await stack.client.containers.list(["labels.parity==even"]);
    assert.equal(even.length, COUNT / 2);
  });

  it("one reply that is too large names the header", async () => {
    const error = await stack.client.call("containers", "list", {}).catch((e: Error) => e);
    assert.ok(error instanceof InvalidArgument);
    assert.match(error.message, /above the server's max payload of 1048576: send the header Ctrmeta-List-Chunks: true/);
  });
});
