/**
 * The CLI's views of the past as a user runs them: `history` in every group,
 * `--at` on reads, `projections rebuild` and `snapshot-info`, and `containers ls`
 * streaming a list that arrives in several chunks. One service serves the whole
 * file, so each test works in its own namespace.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Objm } from "@nats-io/obj";
import { Client } from "../../src/client/client.js";
import type { HistoryEntry } from "../../src/client/services.js";
import { readSnapshot, SNAPSHOT_OBJECT } from "../../src/projections/snapshot.js";
import { container, SPEC, startStack, type Stack } from "../helpers/nats.js";

const CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** The test's environment without the variables that would change the CLI's defaults. */
const BASE_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !["CTRMETA_SERVER", "CONTAINERD_NAMESPACE", "CONTAINERD_SNAPSHOTTER"].includes(name)),
);

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command without blocking the event loop, because the service under test runs in this process. */
function run(command: string, args: string[], input = ""): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: BASE_ENV, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
    child.once("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

function digest(hexChar: string): string {
  return `sha256:${hexChar.repeat(64)}`;
}

/** Return the current time with 50 ms of quiet on each side, so it falls between the log times of the writes around it. */
async function timeBetweenWrites(): Promise<string> {
  await sleep(50);
  const time = new Date().toISOString();
  await sleep(50);
  return time;
}

const EVENT_LINE = /^(\d+) (\S+) (\S+) (\S+)$/;

describe("ctrmeta CLI history, --at and projections", () => {
  let stack: Stack;
  let dir: string;

  function ctrmeta(args: string[], input?: string): Promise<CliResult> {
    return run(process.execPath, [CLI, "--server", stack.nats.url, ...args], input);
  }

  /** Run the CLI and require exit code 0 with nothing on stderr. */
  async function ok(args: string[], input?: string): Promise<string> {
    const result = await ctrmeta(args, input);
    assert.equal(result.code, 0, `ctrmeta ${args.join(" ")} failed: ${result.stderr}`);
    assert.equal(result.stderr, "", `ctrmeta ${args.join(" ")} wrote to stderr`);
    return result.stdout;
  }

  async function history(args: string[]): Promise<HistoryEntry[]> {
    return JSON.parse(await ok([...args, "--json"])) as HistoryEntry[];
  }

  before(async () => {
    // Collections start only after deletions, never at start or after a count of mutations.
    stack = await startStack({ gc: { mutationThreshold: 0, startupDelayMs: 0 } });
    dir = mkdtempSync(join(tmpdir(), "ctrmeta-cli-history-"));
  });

  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("container history: create, update, delete", async () => {
    const ns = ["-n", "hist-c"];
    const file = join(dir, "web.json");
    writeFileSync(file, JSON.stringify({ id: "web", image: "nginx:1.25", labels: { app: "web" }, runtime: { name: "io.containerd.runc.v2" }, spec: SPEC }));
    await ok([...ns, "c", "create", "--file", file]);
    assert.equal(await ok([...ns, "c", "label", "web", "tier=front", "app="]), "tier=front\n");
    await ok([...ns, "c", "update", "web", "--file", "-", "--paths", "image"], JSON.stringify({ image: "nginx:1.27" }));
    await ok([...ns, "c", "rm", "web"]);

    const text = await ok([...ns, "c", "history", "web"]);
    const events = lines(text).filter((line) => !line.startsWith("  "));
    assert.deepEqual(
      events.map((line) => EVENT_LINE.exec(line)?.[4]),
      ["container.created", "container.updated", "container.updated", "container.deleted"],
      text,
    );
    for (const line of events) {
      const [, seq, time, requestId] = EVENT_LINE.exec(line)!;
      assert.ok(Number(seq) > 0, line);
      assert.ok(!Number.isNaN(Date.parse(time!)), `time of: ${line}`);
      assert.notEqual(requestId, "", line);
    }
    const seqs = events.map((line) => Number(EVENT_LINE.exec(line)![1]));
    assert.deepEqual([...seqs].sort((a, b) => a - b), seqs, "events are oldest first");

    const changes = lines(text).filter((line) => line.startsWith("  "));
    assert.ok(changes.includes('  labels.app: (none) -> "web"'), text);
    assert.ok(changes.includes('  labels.app: "web" -> (none)'), text);
    assert.ok(changes.includes('  labels.tier: (none) -> "front"'), text);
    assert.ok(changes.includes('  image: "nginx:1.25" -> "nginx:1.27"'), text);
    assert.ok(changes.includes('  id: "web" -> (none)'), text);

    const entries = await history([...ns, "c", "history", "web"]);
    assert.deepEqual(entries.map((entry) => entry.seq), seqs);
    assert.deepEqual(entries[2]!.changes.filter((change) => change.path !== "updatedAt"), [{ path: "image", from: "nginx:1.25", to: "nginx:1.27" }]);
  });

  it("history of a missing object fails", async () => {
    const container = await ctrmeta(["-n", "hist-c", "c", "history", "ghost"]);
    assert.equal(container.code, 1);
    assert.equal(container.stdout, "");
    assert.equal(container.stderr, 'ctrmeta: no history for container "ghost" in namespace "hist-c"\n');

    const namespace = await ctrmeta(["ns", "history", "ghost-ns", "--json"]);
    assert.equal(namespace.code, 1);
    assert.equal(namespace.stdout, "");
    assert.equal(namespace.stderr, 'ctrmeta: no history for namespace "ghost-ns"\n');

    const snapshot = await ctrmeta(["snapshots", "--snapshotter", "native", "history", "ghost-key"]);
    assert.equal(snapshot.code, 1);
    assert.equal(snapshot.stderr, 'ctrmeta: no history for snapshot "ghost-key" of snapshotter "native" in namespace "default"\n');
  });

  it("history in every group", async () => {
    const ns = ["-n", "hist-all"];
    await ok(["ns", "create", "hist-all", "owner=a"]);
    await ok(["ns", "label", "hist-all", "owner=b"]);
    const namespaceText = await ok(["ns", "history", "hist-all"]);
    assert.deepEqual(
      lines(namespaceText).filter((line) => line.startsWith("  ")),
      ['  labels.owner: (none) -> "a"', '  labels.owner: "a" -> "b"'],
      namespaceText,
    );

    const blob = digest("a");
    await ok([...ns, "images", "create", "docker.io/library/app:1", "--digest", blob, "--size", "10"]);
    await ok([...ns, "images", "label", "docker.io/library/app:1", "stage=test"]);
    const images = await history([...ns, "i", "history", "docker.io/library/app:1"]);
    assert.deepEqual(images.map((entry) => entry.type), ["image.created", "image.updated"]);
    assert.ok(images[1]!.changes.some((change) => change.path === "labels.stage" && change.to === "test"), JSON.stringify(images));

    await ok([...ns, "content", "commit", blob, "--size", "10", "kind=blob"]);
    await ok([...ns, "content", "rm", blob]);
    const content = await history([...ns, "content", "history", blob]);
    assert.deepEqual(content.map((entry) => entry.type), ["content.committed", "content.deleted"]);

    const snapshotter = ["snapshots", "--snapshotter", "native"];
    await ok([...ns, ...snapshotter, "prepare", "layer-1"]);
    await ok([...ns, ...snapshotter, "commit", "layer-1-done", "layer-1"]);
    const active = await history([...ns, ...snapshotter, "history", "layer-1"]);
    assert.equal(active[0]!.type, "snapshot.prepared", JSON.stringify(active));
    const committed = await history([...ns, ...snapshotter, "history", "layer-1-done"]);
    assert.equal(committed[0]!.type, "snapshot.committed", JSON.stringify(committed));
    const otherSnapshotter = await ctrmeta([...ns, "snapshots", "--snapshotter", "overlayfs", "history", "layer-1"]);
    assert.equal(otherSnapshotter.code, 1, "the key exists only under snapshotter native");

    await ok([...ns, "leases", "create", "--id", "build-1", "purpose=ci"]);
    await ok([...ns, "leases", "add-resource", "build-1", "content", blob]);
    const leaseText = await ok([...ns, "leases", "history", "build-1"]);
    const leaseEvents = lines(leaseText).filter((line) => !line.startsWith("  "));
    assert.deepEqual(leaseEvents.map((line) => EVENT_LINE.exec(line)?.[4]), ["lease.created", "lease.resource.added"], leaseText);
  });

  it("--at on info and ls", async () => {
    const ns = ["-n", "hist-at"];
    const file = join(dir, "at.json");
    writeFileSync(file, JSON.stringify(container("api", { image: "api:1", labels: { v: "1" } })));
    await ok([...ns, "c", "create", "--file", file]);
    const afterCreate = await timeBetweenWrites();
    await ok([...ns, "c", "label", "api", "v=2"]);
    writeFileSync(file, JSON.stringify(container("worker", { image: "worker:1" })));
    await ok([...ns, "c", "create", "--file", file]);
    await ok([...ns, "c", "rm", "api"]);

    const [created, labelled, deleted] = (await history([...ns, "c", "history", "api"])).map((entry) => entry.seq);

    const first = JSON.parse(await ok([...ns, "c", "info", "api", "--at", String(created)])) as { labels: Record<string, string> };
    assert.deepEqual(first.labels, { v: "1" });
    const second = JSON.parse(await ok([...ns, "c", "info", "api", "--at", String(labelled)])) as { labels: Record<string, string> };
    assert.deepEqual(second.labels, { v: "2" });
    const byTime = JSON.parse(await ok([...ns, "c", "info", "api", "--at", afterCreate])) as { labels: Record<string, string> };
    assert.deepEqual(byTime.labels, { v: "1" }, "the state between the create and the label");

    const deletedRead = await ctrmeta([...ns, "c", "info", "api", "--at", String(deleted)]);
    assert.equal(deletedRead.code, 1);
    assert.match(deletedRead.stderr, /not found/);

    assert.equal(await ok([...ns, "c", "ls", "-q", "--at", String(created)]), "api\n");
    assert.equal(await ok([...ns, "c", "ls", "-q", "--at", String(deleted! - 1)]), "api\nworker\n");
    assert.equal(await ok([...ns, "c", "ls", "-q"]), "worker\n");
    const table = lines(await ok([...ns, "c", "ls", "--at", String(created)]));
    assert.equal(table.length, 2, table.join("\n"));
    assert.match(table[1]!, /^api +api:1 +io\.containerd\.runc\.v2 +$/);
    const json = JSON.parse(await ok([...ns, "c", "ls", "--format", "json", "--at", afterCreate])) as Array<{ id: string }>;
    assert.deepEqual(json.map((record) => record.id), ["api"]);
  });

  it("--at in the other groups", async () => {
    const ns = ["-n", "hist-at-all"];
    await ok(["ns", "create", "hist-at-all", "tier=1"]);
    const blob = digest("b");
    await ok([...ns, "images", "create", "docker.io/library/old:1", "--digest", blob, "--size", "10"]);
    // A gc root, so the collections that the deletions below start keep the blob.
    await ok([...ns, "content", "commit", blob, "--size", "10", "stage=one", "containerd.io/gc.root=true"]);
    await ok([...ns, "snapshots", "--snapshotter", "native", "prepare", "snap-1"]);
    await ok([...ns, "leases", "create", "--id", "lease-1"]);
    await ok([...ns, "leases", "add-resource", "lease-1", "content", blob]);
    const before = await timeBetweenWrites();

    await ok(["ns", "label", "hist-at-all", "tier=2"]);
    await ok([...ns, "images", "rm", "docker.io/library/old:1"]);
    await ok([...ns, "content", "label", blob, "stage=two"]);
    await ok([...ns, "snapshots", "--snapshotter", "native", "rm", "snap-1"]);
    await ok([...ns, "leases", "delete-resource", "lease-1", "content", blob]);
    await ok([...ns, "leases", "rm", "lease-1"]);
    const at = ["--at", before];

    assert.deepEqual(JSON.parse(await ok(["ns", "info", "hist-at-all", ...at])), { name: "hist-at-all", labels: { tier: "1" } });
    assert.match(await ok(["ns", "ls", ...at]), /^hist-at-all +tier=1 +$/m);
    assert.match(await ok(["ns", "ls"]), /^hist-at-all +tier=2 +$/m);

    assert.equal(await ok([...ns, "i", "ls", "-q", ...at]), "docker.io/library/old:1\n");
    assert.equal(await ok([...ns, "i", "ls", "-q"]), "");
    const image = JSON.parse(await ok([...ns, "i", "info", "docker.io/library/old:1", ...at])) as { target: { digest: string } };
    assert.equal(image.target.digest, blob);

    assert.equal((JSON.parse(await ok([...ns, "content", "info", blob, ...at])) as { labels: Record<string, string> }).labels.stage, "one");
    assert.match(await ok([...ns, "content", "ls", ...at]), /stage=one/);
    assert.match(await ok([...ns, "content", "ls"]), /stage=two/);

    const snapshots = ["snapshots", "--snapshotter", "native"];
    assert.match(await ok([...ns, ...snapshots, "ls", ...at]), /^snap-1 +Active +$/m);
    assert.deepEqual(lines(await ok([...ns, ...snapshots, "ls"])), ["KEY PARENT KIND "]);
    assert.equal((JSON.parse(await ok([...ns, ...snapshots, "info", "snap-1", ...at])) as { kind: string }).kind, "active");

    assert.equal(await ok([...ns, "leases", "ls", "-q", ...at]), "lease-1\n");
    assert.equal(await ok([...ns, "leases", "ls", "-q"]), "");
    assert.match(await ok([...ns, "leases", "resources", "lease-1", ...at]), new RegExp(`^content +${blob} +$`, "m"));
  });

  it("--at errors come from the service", async () => {
    const beyond = await ctrmeta(["c", "ls", "--at", "99999999"]);
    assert.equal(beyond.code, 1);
    assert.match(beyond.stderr, /^ctrmeta: at 99999999: the log ends at \d+/);

    const badTime = await ctrmeta(["c", "info", "web", "--at", "yesterday"]);
    assert.equal(badTime.code, 1);
    assert.match(badTime.stderr, /^ctrmeta: at "yesterday": expected a log sequence or an RFC 3339 time \(not in the form 2006-01-02T15:04:05Z/);

    const noSuchDay = await ctrmeta(["c", "ls", "--at", "2026-02-30T00:00:00Z"]);
    assert.equal(noSuchDay.code, 1);
    assert.match(noSuchDay.stderr, /^ctrmeta: at "2026-02-30T00:00:00Z": expected a log sequence or an RFC 3339 time \(day 30 is out of range for 2026-02\)/);

    const empty = await ctrmeta(["c", "ls", "--at", ""]);
    assert.equal(empty.code, 1);
    assert.match(empty.stderr, /^ctrmeta: --at: expected a log sequence or an RFC 3339 time/);
  });

  it("containers ls streams many chunks", async () => {
    const namespace = "hist-many";
    const count = 2000;
    // About 700 bytes of JSON each, so the list needs several chunks of at most 256 KiB.
    const padding = "p".repeat(400);
    const client = await Client.connect({ servers: stack.nats.url, namespace });
    try {
      for (let start = 0; start < count; start += 100) {
        const batch: Array<Promise<unknown>> = [];
        for (let i = start; i < Math.min(count, start + 100); i++) {
          batch.push(client.containers.create(container(`c-${String(i).padStart(5, "0")}`, { image: "img:1", labels: { padding } })));
        }
        await Promise.all(batch);
      }
      // Listed last, after the first chunk fixed the column widths.
      await client.containers.create(container(`z-${"long".repeat(10)}`, { image: "image-with-a-longer-name:1" }));

      let chunks = 0;
      for await (const chunk of client.containers.listChunks()) if (chunk.length > 0) chunks++;
      assert.ok(chunks > 1, `the list came in ${chunks} chunk, so this test would not cover streaming`);

      const ns = ["-n", namespace];
      const ids = lines(await ok([...ns, "c", "ls", "-q"]));
      assert.equal(ids.length, count + 1);
      assert.equal(new Set(ids).size, count + 1, "no container is listed twice");

      const table = lines(await ok([...ns, "c", "ls"]));
      assert.equal(table.length, count + 2);
      const header = table[0]!;
      assert.match(header, /^CONTAINER {4}IMAGE {4}RUNTIME {18}$/, "widths of the first chunk, where ids are 7 characters");
      const imageColumn = header.indexOf("IMAGE");
      assert.equal(table[1]!.indexOf("img:1"), imageColumn, "rows of the first chunk line up with the header");
      assert.equal(table[count]!.indexOf("img:1"), imageColumn, "rows of the last chunk keep the first chunk's widths");
      assert.match(table[count + 1]!, /^z-(long){10} {4}image-with-a-longer-name:1 {4}io\.containerd\.runc\.v2 {4}$/, "a wider cell keeps its padding");

      const json = await ok([...ns, "c", "ls", "--format", "json"]);
      const expected = await client.containers.list();
      assert.equal(json, `${JSON.stringify(expected, null, 4)}\n`, "the streamed array reads like one printed at once");
    } finally {
      await client.close();
    }
  });

  it("containers ls json of an empty list", async () => {
    assert.equal(await ok(["-n", "hist-empty", "c", "ls", "--format", "json"]), "[]\n");
    assert.equal(await ok(["-n", "hist-empty", "c", "ls"]), "CONTAINER    IMAGE    RUNTIME    \n");
  });

  it("projections rebuild writes a snapshot", async () => {
    const missing = await ctrmeta(["projections", "snapshot-info"]);
    assert.equal(missing.code, 1, "the instance writes its first snapshot after 100,000 events");
    assert.match(missing.stderr, /^ctrmeta: no view snapshot in object store ctrmeta-projections: run `ctrmeta projections rebuild`/);

    const dryRun = await ok(["projections", "rebuild", "--dry-run"]);
    assert.match(dryRun, /^rebuilt the view from \d+ events in \d+\.\d s \(\d+ events\/s\)\n$/);
    assert.equal((await ctrmeta(["projections", "snapshot-info"])).code, 1, "--dry-run writes no snapshot");

    const output = lines(await ok(["projections", "rebuild"]));
    assert.equal(output.length, 2, output.join("\n"));
    const events = Number(/^rebuilt the view from (\d+) events in \d+\.\d s \(\d+ events\/s\)$/.exec(output[0]!)?.[1]);
    assert.ok(events > 2000, `${events} events: the log holds at least the containers of the earlier tests`);
    const seq = Number(/^wrote the view snapshot at log sequence (\d+) \(\S+\) to object store ctrmeta-projections$/.exec(output[1]!)?.[1]);
    assert.equal(seq, events, "every event from the first one was replayed");

    const store = await new Objm(stack.client.nc).open("ctrmeta-projections");
    const info = await store.info(SNAPSHOT_OBJECT);
    assert.equal(info?.metadata?.seq, String(seq));
    const image = await readSnapshot(store);
    assert.equal(image?.seq, seq);
    assert.equal(image?.state.namespaces.get("hist-many")?.containers.size, 2001);
    assert.equal(image?.state.namespaces.get("hist-at")?.containers.has("worker"), true);

    const summary = JSON.parse(await ok(["projections", "snapshot-info", "--json"])) as { seq: number; writtenAt: string; logLastSeq: number };
    assert.equal(summary.seq, seq);
    assert.ok(Math.abs(Date.now() - Date.parse(summary.writtenAt)) < 60_000, summary.writtenAt);
    assert.ok(summary.logLastSeq >= seq);
    const text = await ok(["projections", "snapshot-info"]);
    assert.match(text, new RegExp(`^seq: +${seq}$`, "m"));
    assert.match(text, /^written at: +\d{4}-\d\d-\d\dT/m);

    // A removed snapshot (as after a divergence) keeps its name, marked deleted.
    await store.delete(SNAPSHOT_OBJECT);
    const removed = await ctrmeta(["projections", "snapshot-info"]);
    assert.equal(removed.code, 1);
    assert.match(removed.stderr, /^ctrmeta: no view snapshot in object store ctrmeta-projections/);
    await ok(["projections", "rebuild"]);
  });

  it("projections rebuild progress on a terminal", { skip: process.platform !== "linux" && "needs script(1) from util-linux" }, async () => {
    // script(1) gives the CLI a pseudo-terminal, so stderr is a TTY.
    const command = [process.execPath, CLI, "--server", stack.nats.url, "projections", "rebuild", "--dry-run"].join(" ");
    const result = await run("script", ["-q", "-e", "-c", command, "/dev/null"]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /\rreplaying the log \[#{30}\] 100% \d+\/\d+ events/);
    assert.match(result.stdout, /\r\x1b\[Krebuilt the view from \d+ events/);
  });
});
