/**
 * SIGTERM under load: the service stops taking requests, answers those in flight,
 * and loses nothing it acknowledged.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "../../src/client/client.js";
import { container, startInstance, startTestServer, type TestServer } from "../helpers/nats.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

function serve(url: string): ChildProcess {
  return spawn(process.execPath, [CLI, "serve", "--server", url, "--log-level", "warn"], { stdio: ["ignore", "pipe", "pipe"] });
}

async function waitUntilServing(client: Client): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (await client.namespaces.list({ timeoutMs: 500 }).then(() => true, () => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error("the service did not start");
}

describe("graceful shutdown", () => {
  let nats: TestServer;
  let client: Client;
  before(async () => {
    nats = await startTestServer();
    client = await Client.connect({ servers: nats.url, timeoutMs: 5000 });
  });
  after(async () => {
    await client?.close();
    await nats?.close();
  });

  it("SIGTERM under load loses no acknowledged write", async (t) => {
    const child = serve(nats.url);
    let stderr = "";
    child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    try {
      await waitUntilServing(client);

      const acknowledged: string[] = [];
      const failures = new Map<string, number>();
      let next = 0;
      let stopping = false;
      const worker = async () => {
        while (!stopping) {
          const id = `w-${next++}`;
          try {
            await client.containers.create(container(id), { timeoutMs: 5000 });
            acknowledged.push(id);
          } catch (error) {
            // A request sent after the service stopped listening finds no responders;
            // one it took and then dropped would time out instead.
            const message = (error as Error).message;
            const kind = /no responders/.test(message) ? "no responders" : /timeout/i.test(message) ? "timeout" : ((error as { kind?: string }).kind ?? "thrown");
            failures.set(kind, (failures.get(kind) ?? 0) + 1);
            if (kind === "no responders") await new Promise((resolve) => setTimeout(resolve, 20));
          }
        }
      };
      const workers = Array.from({ length: 16 }, () => worker());
      await new Promise((resolve) => setTimeout(resolve, 700));
      child.kill("SIGTERM");
      const code = await exited;
      stopping = true;
      await Promise.all(workers);

      assert.equal(code, 0, stderr);
      assert.ok(acknowledged.length > 50, `only ${acknowledged.length} writes before the stop`);
      for (const kind of failures.keys()) assert.equal(kind, "no responders", "every request the service took was answered");

      // Every acknowledged write is in the log: a new instance rebuilds them all.
      const instance = await startInstance(nats.url, { gc: false });
      try {
        const stored = new Set(instance.projection.state.namespaces.get("default")?.containers.keys() ?? []);
        const lost = acknowledged.filter((id) => !stored.has(id));
        t.diagnostic(JSON.stringify({ acknowledged: acknowledged.length, refused: Object.fromEntries(failures), lost: lost.length }));
        assert.deepEqual(lost, []);
      } finally {
        await instance.close();
      }
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
