import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "../../src/nats/server.js";
import { SPEC, startStack, type Stack } from "../helpers/nats.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** Run the CLI without blocking the event loop: the service under test runs in this process. */
function ctrmeta(args: string[], input?: string, env: NodeJS.ProcessEnv = process.env) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? "");
  });
}

describe("ctrmeta CLI", () => {
  let stack: Stack;
  let dir: string;
  let server: string[];
  before(async () => {
    stack = await startStack();
    dir = mkdtempSync(join(tmpdir(), "ctrmeta-cli-"));
    server = ["--server", stack.nats.url];
  });
  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("container lifecycle through the CLI", async () => {
    const file = join(dir, "web.json");
    writeFileSync(file, JSON.stringify({ id: "web-1", image: "nginx:1.25", labels: { app: "web" }, runtime: { name: "io.containerd.runc.v2" }, spec: SPEC }));
    assert.equal((await ctrmeta([...server, "c", "create", "--file", file])).code, 0);

    const list = await ctrmeta([...server, "c", "ls"]);
    assert.equal(list.code, 0);
    assert.deepEqual(list.stdout.split("\n")[0]!.split(/\s+/).filter(Boolean), ["CONTAINER", "IMAGE", "RUNTIME"]);
    assert.match(list.stdout, /web-1\s+nginx:1\.25\s+io\.containerd\.runc\.v2/);

    assert.equal((await ctrmeta([...server, "containers", "ls", "-q", "labels.app==web"])).stdout, "web-1\n");
    assert.equal((await ctrmeta([...server, "c", "label", "web-1", "tier=front", "app="])).stdout, "tier=front\n");
    const info = JSON.parse((await ctrmeta([...server, "c", "info", "web-1"])).stdout) as { labels: Record<string, string> };
    assert.deepEqual(info.labels, { tier: "front" });

    const json = JSON.parse((await ctrmeta([...server, "c", "ls", "--format", "json"])).stdout) as Array<{ id: string }>;
    assert.deepEqual(json.map((c) => c.id), ["web-1"]);

    const update = await ctrmeta([...server, "c", "update", "web-1", "--file", "-", "--paths", "image"], JSON.stringify({ image: "nginx:1.27" }));
    assert.equal(update.code, 0, update.stderr);
    assert.equal((JSON.parse(update.stdout) as { image: string }).image, "nginx:1.27");

    // Paths may have spaces after the commas; a record naming another id is rejected.
    const spaced = await ctrmeta([...server, "c", "update", "web-1", "--file", "-", "--paths", "labels.x, image"], JSON.stringify({ image: "nginx:1.28", labels: { x: "y" } }));
    assert.equal(spaced.code, 0, spaced.stderr);
    assert.equal((JSON.parse(spaced.stdout) as { image: string }).image, "nginx:1.28");
    const otherId = await ctrmeta([...server, "c", "update", "web-1", "--file", "-", "--paths", "labels.x"], JSON.stringify({ id: "web-2", labels: { x: "z" } }));
    assert.equal(otherId.code, 1);
    assert.equal(otherId.stderr, 'ctrmeta: stdin: the record\'s id "web-2" differs from the argument "web-1": invalid argument\n');
    const unchanged = JSON.parse((await ctrmeta([...server, "c", "info", "web-1"])).stdout) as { labels: Record<string, string> };
    assert.equal(unchanged.labels.x, "y");

    assert.equal((await ctrmeta([...server, "c", "rm", "web-1"])).code, 0);
    assert.equal((await ctrmeta([...server, "c", "ls", "-q"])).stdout, "");
  });

  it("errors exit non-zero with a message", async () => {
    const missing = await ctrmeta([...server, "c", "info", "ghost"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'ctrmeta: container "ghost" in namespace "default": not found\n');

    const badFile = await ctrmeta([...server, "c", "create", "--file", "-"], "{not json");
    assert.equal(badFile.code, 1);
    assert.match(badFile.stderr, /^ctrmeta: stdin is not valid JSON/);
  });

  it("namespace flag and env select the namespace", async () => {
    const file = join(dir, "n.json");
    writeFileSync(file, JSON.stringify({ id: "in-ns", runtime: { name: "r" }, spec: SPEC }));
    assert.equal((await ctrmeta([...server, "-n", "team-a", "c", "create", "--file", file])).code, 0);
    assert.equal((await ctrmeta([...server, "c", "ls", "-q", "--namespace", "team-a"])).stdout, "in-ns\n");
    const env = await ctrmeta([...server, "c", "ls", "-q"], undefined, { ...process.env, CONTAINERD_NAMESPACE: "team-a" });
    assert.equal(env.stdout, "in-ns\n");
    assert.match((await ctrmeta([...server, "ns", "ls", "-q"])).stdout, /^team-a$/m);
  });

  it("serve starts its own nats-server and stops on SIGTERM", async () => {
    const port = await freePort();
    const dataDir = join(dir, "serve-data");
    const child = spawn(process.execPath, [CLI, "serve", "--port", String(port), "--data-dir", dataDir, "--log-level", "warn"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let ok = false;
      for (let i = 0; i < 50 && !ok; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200));
        ok = (await ctrmeta(["--server", `nats://127.0.0.1:${port}`, "ns", "ls"])).code === 0;
      }
      assert.ok(ok, "service did not come up");
    } finally {
      child.kill("SIGTERM");
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      assert.equal(code, 0);
    }
  });

  it("serve explains a taken port", async () => {
    const port = stack.nats.server.port;
    const result = await ctrmeta(["serve", "--port", String(port), "--data-dir", join(dir, "taken")]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, new RegExp(`port ${port} on 127.0.0.1 is already in use`));
  });
});
