/** The package exports its client library under its own name. */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startStack, type Stack } from "../helpers/nats.js";

type ClientModule = typeof import("../../src/client/index.js");

/** Import by package name at run time: the compiler cannot see the build output it resolves to. */
async function importPackage(): Promise<ClientModule> {
  const name: string = "ctrmeta";
  return (await import(name)) as ClientModule;
}

describe("package exports", () => {
  let stack: Stack;
  before(async () => {
    stack = await startStack({ gc: false });
  });
  after(async () => {
    await stack?.close();
  });

  it("client and errors from the package name", async () => {
    const { Client, NotFound } = await importPackage();
    const client = await Client.connect({ servers: stack.nats.url });
    try {
      const error = await client.images.get("missing").catch((e: unknown) => e);
      assert.ok(error instanceof NotFound);
    } finally {
      await client.close();
    }
  });
});
