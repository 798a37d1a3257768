/**
 * The ctrmeta command line as a user runs it, group by group: namespaces, images,
 * content, snapshots, leases, gc and events, plus the errors commander and the
 * service report. One service serves the whole file, so each test works in its own
 * namespace.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { freePort } from "../../src/nats/server.js";
import { startStack, type Stack } from "../helpers/nats.js";

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

interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  output(): string;
  errors(): string;
  done: Promise<CliResult>;
}

/** Start the CLI without blocking the event loop, because the service under test runs in this process. */
function startCli(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], { env: options.env ?? BASE_ENV, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  const done = new Promise<CliResult>((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
  child.stdin.end(options.input ?? "");
  return { child, output: () => stdout, errors: () => stderr, done };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

function digest(hexChar: string): string {
  return `sha256:${hexChar.repeat(64)}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function lines(text: string): string[] {
  return text.split("\n").filter((line) => line !== "");
}

/** Find the table line whose first cell is `key`. */
function row(table: string, key: string): string {
  const found = lines(table).find((line) => line.startsWith(`${key} `) || line.startsWith(`${key}\t`));
  assert.ok(found !== undefined, `no row ${key} in:\n${table}`);
  return found;
}

const UTC_RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const LOCAL_RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d)$/;

describe("ctrmeta CLI groups", () => {
  let stack: Stack;
  let dir: string;

  /** Run the CLI against the test's service and wait for it to exit. */
  function ctrmeta(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
    return startCli(["--server", stack.nats.url, ...args], options).done;
  }

  /** Run the CLI and require exit code 0 with nothing on stderr. */
  async function ok(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
    const result = await ctrmeta(args, options);
    assert.equal(result.code, 0, `ctrmeta ${args.join(" ")} failed: ${result.stderr}`);
    assert.equal(result.stderr, "", `ctrmeta ${args.join(" ")} wrote to stderr`);
    return result.stdout;
  }

  before(async () => {
    // Background collections run only after deletions, never after a number of
    // mutations or at start, so an unreferenced blob stays until a test collects.
    stack = await startStack({ gc: { mutationThreshold: 0, startupDelayMs: 0 } });
    dir = mkdtempSync(join(tmpdir(), "ctrmeta-cli-groups-"));
  });

  after(async () => {
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("namespaces create, ls, label, info", async () => {
    assert.equal(await ok(["ns", "create", "team-a", "owner=platform", "tier=1"]), "");
    assert.equal(await ok(["namespace", "c", "team-b"]), "");

    const table = await ok(["ns", "ls"]);
    const header = lines(table)[0]!;
    assert.match(header, /^NAME +LABELS +$/);
    const teamA = row(table, "team-a");
    assert.match(teamA, /^team-a +owner=platform,tier=1 $/);
    assert.equal(teamA.indexOf("owner"), header.indexOf("LABELS"), "LABELS column is not aligned");
    assert.match(row(table, "team-b"), /^team-b +$/);

    const quiet = lines(await ok(["ns", "ls", "-q"]));
    assert.ok(quiet.includes("team-a"), quiet.join(","));
    assert.ok(quiet.includes("team-b"), quiet.join(","));

    assert.equal(await ok(["ns", "label", "team-a", "tier=", "env=prod"]), "");
    assert.deepEqual(JSON.parse(await ok(["ns", "info", "team-a"])), { name: "team-a", labels: { owner: "platform", env: "prod" } });

    assert.equal(await ok(["ns", "label", "team-a"]), "", "label without pairs prints nothing");
    const unchanged = JSON.parse(await ok(["ns", "info", "team-a"])) as { labels: Record<string, string> };
    assert.deepEqual(unchanged.labels, { owner: "platform", env: "prod" }, "label without pairs must not clear the labels");

    const info = await ok(["ns", "info", "team-b"]);
    assert.equal(info, '{\n    "name": "team-b",\n    "labels": {}\n}\n', "info is JSON indented by 4 spaces");

    const missing = await ctrmeta(["ns", "info", "ghost-ns"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, "");
    assert.equal(missing.stderr, 'ctrmeta: namespace "ghost-ns": not found\n');
  });

  it("namespaces rm non-empty and missing", async () => {
    await ok(["ns", "create", "empty-one"]);
    await ok(["-n", "full", "i", "create", "keep:1", "--digest", digest("a"), "--size", "1"]);

    const nonEmpty = await ctrmeta(["ns", "rm", "empty-one", "full"]);
    assert.equal(nonEmpty.code, 1);
    assert.equal(nonEmpty.stdout, "empty-one\n");
    assert.equal(
      nonEmpty.stderr,
      'ctrmeta: unable to delete full: namespace "full" must be empty, but it still has images: failed precondition\n',
    );
    assert.ok(lines(await ok(["ns", "ls", "-q"])).includes("full"));

    assert.equal(await ok(["-n", "full", "i", "rm", "keep:1"]), "keep:1\n");
    assert.equal(await ok(["ns", "remove", "full"]), "full\n");
    assert.equal(await ok(["ns", "rm", "never-created"]), "never-created\n", "a missing namespace counts as deleted, as with ctr");

    const remaining = lines(await ok(["ns", "ls", "-q"]));
    assert.ok(!remaining.includes("full"), remaining.join(","));
    assert.ok(!remaining.includes("empty-one"), remaining.join(","));
  });

  it("images create, ls, info and filters", async () => {
    const ns = ["-n", "imgs"];
    const nginx = "docker.io/library/nginx:1.25";
    const created = JSON.parse(
      await ok([...ns, "i", "create", nginx, "--digest", digest("a"), "--size", "1280", "--label", "app=web", "--label", "tier=front"]),
    ) as { name: string; labels: Record<string, string>; target: Record<string, unknown>; createdAt: string };
    assert.equal(created.name, nginx);
    assert.deepEqual(created.labels, { app: "web", tier: "front" });
    assert.equal(created.target.mediaType, "application/vnd.oci.image.manifest.v1+json");
    assert.equal(created.target.digest, digest("a"));
    assert.equal(created.target.size, 1280);
    assert.equal(typeof created.createdAt, "string");

    const file = join(dir, "redis.json");
    writeFileSync(file, JSON.stringify({ name: "docker.io/library/redis:7", target: { mediaType: "application/vnd.oci.image.index.v1+json", digest: digest("b"), size: 2048 } }));
    const fromFile = JSON.parse(await ok([...ns, "image", "create", "--file", file])) as { name: string; target: { size: number } };
    assert.equal(fromFile.name, "docker.io/library/redis:7");
    assert.equal(fromFile.target.size, 2048);

    const stdin = JSON.stringify({ image: { name: "overridden", target: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: digest("c"), size: 3 } } });
    const fromStdin = JSON.parse(await ok([...ns, "i", "create", "docker.io/library/alpine:3", "--file", "-"], { input: stdin })) as { name: string };
    assert.equal(fromStdin.name, "docker.io/library/alpine:3", "the name argument overrides the file's");

    const incomplete = await ctrmeta([...ns, "i", "create", "x:1", "--digest", digest("d")]);
    assert.equal(incomplete.code, 1);
    assert.equal(incomplete.stderr, "ctrmeta: --digest and --size are required without --file: invalid argument\n");

    const table = await ok([...ns, "i", "ls"]);
    assert.match(lines(table)[0]!, /^REF +TYPE +DIGEST +SIZE +LABELS +$/);
    assert.match(
      row(table, nginx),
      new RegExp(`^${escapeRegExp(nginx)} +application/vnd\\.oci\\.image\\.manifest\\.v1\\+json +${digest("a")} +1\\.2 KiB +app=web,tier=front +$`),
    );
    assert.match(row(table, "docker.io/library/redis:7"), /index\.v1\+json +sha256:b{64} +2\.0 KiB +- +$/);

    assert.equal(await ok([...ns, "i", "ls", "-q"]), "docker.io/library/alpine:3\ndocker.io/library/nginx:1.25\ndocker.io/library/redis:7\n");
    assert.equal(await ok([...ns, "i", "ls", "-q", "name~=redis"]), "docker.io/library/redis:7\n");
    assert.equal(await ok([...ns, "i", "ls", "-q", "labels.app==web"]), `${nginx}\n`);
    assert.match(await ok([...ns, "i", "ls", "name==nothing"]), /^REF +TYPE +DIGEST +SIZE +LABELS +\n$/);

    const info = JSON.parse(await ok([...ns, "i", "info", nginx])) as { name: string; target: { digest: string } };
    assert.equal(info.name, nginx);
    assert.equal(info.target.digest, digest("a"));
  });

  it("images label and replace-all", async () => {
    const ns = ["-n", "imglabels"];
    const name = "docker.io/library/busybox:1";
    await ok([...ns, "i", "create", name, "--digest", digest("1"), "--size", "10", "--label", "app=web", "--label", "tier=front"]);

    assert.equal(await ok([...ns, "i", "label", name, "tier=back", "app=", "team"]), "team=true,tier=back\n");
    assert.equal(await ok([...ns, "i", "label", name]), "team=true,tier=back\n", "label without pairs prints the current labels");

    assert.equal(await ok([...ns, "i", "label", "--replace-all", name, "only=this"]), "only=this\n");
    const info = JSON.parse(await ok([...ns, "i", "info", name])) as { labels: Record<string, string>; target: { digest: string } };
    assert.deepEqual(info.labels, { only: "this" });
    assert.equal(info.target.digest, digest("1"), "replacing labels keeps the target");

    assert.equal(await ok([...ns, "i", "label", "-r", name]), "\n", "replace-all without pairs clears the labels");

    const missing = await ctrmeta([...ns, "i", "label", "ghost:1", "a=b"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^ctrmeta: image "ghost:1": not found\n$/);
  });

  it("images rm and rm --sync", async () => {
    const ns = ["-n", "imgrm"];
    // The image exists before its content, so no background collection finds the blob unreferenced.
    await ok([...ns, "i", "create", "sync:1", "--digest", digest("5"), "--size", "5"]);
    await ok([...ns, "content", "commit", digest("5"), "--size", "5"]);
    await ok([...ns, "i", "create", "plain:1", "--digest", digest("6"), "--size", "6"]);
    await ok([...ns, "i", "create", "plain:2", "--digest", digest("6"), "--size", "6"]);
    assert.equal(await ok([...ns, "content", "ls", "-q"]), `${digest("5")}\n`);

    assert.equal(await ok([...ns, "i", "rm", "--sync", "sync:1"]), "sync:1\n");
    const collected = await ctrmeta([...ns, "content", "info", digest("5")]);
    assert.equal(collected.code, 1, "the collection of --sync removed the unreferenced blob");
    assert.equal(collected.stderr, `ctrmeta: content digest ${digest("5")}: not found\n`);

    const missing = await ctrmeta([...ns, "i", "rm", "ghost:1", "plain:1", "plain:2"]);
    assert.equal(missing.code, 0, "a missing image is a warning, as with ctr");
    assert.equal(missing.stdout, "plain:1\nplain:2\n");
    assert.equal(missing.stderr, 'ctrmeta: warning: image "ghost:1": not found\n');
    assert.equal(await ok([...ns, "i", "ls", "-q"]), "");
  });

  it("content commit, ls, info, label, rm", async () => {
    const ns = ["-n", "blobs"];
    const small = digest("1");
    const large = digest("2");
    const committed = JSON.parse(await ok([...ns, "content", "commit", small, "--size", "1280", "containerd.io/gc.root=keep", "purpose=test"])) as {
      digest: string;
      size: number;
      labels: Record<string, string>;
    };
    assert.deepEqual({ digest: committed.digest, size: committed.size, labels: committed.labels }, {
      digest: small,
      size: 1280,
      labels: { "containerd.io/gc.root": "keep", purpose: "test" },
    });
    await ok([...ns, "content", "commit", large, "--size", "5000000", "containerd.io/gc.root=keep"]);

    // ctr's content ls pads with tabs and leaves the last column unpadded.
    const table = lines(await ok([...ns, "content", "ls"]));
    assert.deepEqual(table[0]!.split(/\t+/), ["DIGEST", "SIZE", "AGE", "LABELS"]);
    for (const line of table) {
      assert.doesNotMatch(line, / {2}| \t/, "cells are padded with tabs, not spaces");
      assert.ok(!line.endsWith("\t"), `the last column is unpadded: ${JSON.stringify(line)}`);
    }
    const [digestCell, sizeCell, ageCell, labelsCell] = row(table.join("\n"), small).split(/\t+/);
    assert.equal(digestCell, small);
    assert.equal(sizeCell, "1.28kB");
    assert.match(ageCell!, /^(?:Less than a second|1 second|\d+ seconds)$/);
    assert.equal(labelsCell, "containerd.io/gc.root=keep,purpose=test");
    assert.equal(row(table.join("\n"), large).split(/\t+/)[1], "5MB");

    assert.equal(await ok([...ns, "content", "ls", "-q"]), `${small}\n${large}\n`);
    assert.equal(await ok([...ns, "content", "ls", "-q", "labels.purpose==test"]), `${small}\n`);

    const info = JSON.parse(await ok([...ns, "content", "info", small])) as { digest: string; size: number };
    assert.equal(info.digest, small);
    assert.equal(info.size, 1280);

    assert.equal(await ok([...ns, "content", "label", small, "a=b", "purpose="]), "a=b,containerd.io/gc.root=keep\n");
    assert.equal(await ok([...ns, "content", "label", small]), "a=b,containerd.io/gc.root=keep\n", "label without pairs prints the current labels");
    const relabeled = JSON.parse(await ok([...ns, "content", "info", small])) as { labels: Record<string, string> };
    assert.deepEqual(relabeled.labels, { a: "b", "containerd.io/gc.root": "keep" }, "label without pairs must not clear the labels");

    assert.equal(await ok([...ns, "content", "rm", small, digest("9")]), `${small}\n`, "a missing digest is skipped, as with ctr");
    const removed = await ctrmeta([...ns, "content", "info", small]);
    assert.equal(removed.code, 1);
    assert.equal(removed.stderr, `ctrmeta: content digest ${small}: not found\n`);

    const noSize = await ctrmeta([...ns, "content", "commit", digest("3")]);
    assert.equal(noSize.code, 1);
    assert.equal(noSize.stderr, "error: required option '--size <bytes>' not specified\n");
  });

  it("snapshots lifecycle commands", async () => {
    const ns = ["-n", "snaps"];
    const prepared = JSON.parse(await ok([...ns, "snapshots", "prepare", "base-active"])) as { kind: string; labels: Record<string, string> };
    assert.equal(prepared.kind, "active");
    assert.match(prepared.labels["containerd.io/gc.root"] ?? "", UTC_RFC3339, "prepare makes a gc root, as ctr does");

    const committed = JSON.parse(await ok([...ns, "snapshots", "commit", "base", "base-active"])) as { name: string; kind: string; labels: Record<string, string> };
    assert.equal(committed.name, "base");
    assert.equal(committed.kind, "committed");
    assert.match(committed.labels["containerd.io/gc.root"] ?? "", UTC_RFC3339);

    const child = JSON.parse(await ok([...ns, "snapshot", "prepare", "child", "base", "--label", "team=a"])) as { parent: string; labels: Record<string, string> };
    assert.equal(child.parent, "base");
    assert.equal(child.labels.team, "a");

    assert.equal(await ok([...ns, "leases", "create", "--id", "view-lease", "-x", "0"]), "view-lease\n");
    const view = JSON.parse(await ok([...ns, "snapshots", "view", "ro", "base", "--lease", "view-lease"])) as { kind: string; labels: Record<string, string> };
    assert.equal(view.kind, "view");
    assert.deepEqual(view.labels, {}, "a snapshot under a lease is no gc root");

    assert.equal(
      await ok([...ns, "snapshots", "ls"]),
      "KEY   PARENT KIND      \nbase         Committed \nchild base   Active    \nro    base   View      \n",
    );
    assert.equal(await ok([...ns, "snapshots", "ls", "kind==view"]), "KEY PARENT KIND \nro  base   View \n");

    assert.equal(
      await ok([...ns, "gc", "explain", "snapshot", "ro"]),
      "snapshot overlayfs/ro in namespace snaps is kept by:\n  root lease view-lease\n    -> snapshot overlayfs/ro\n",
    );

    const info = JSON.parse(await ok([...ns, "snapshots", "info", "child"])) as { name: string; parent: string; kind: string };
    assert.deepEqual([info.name, info.parent, info.kind], ["child", "base", "active"]);

    assert.match(await ok([...ns, "snapshots", "label", "child", "x=y", "team="]), /^containerd\.io\/gc\.root=\S+,x=y\n$/);
    assert.match(await ok([...ns, "snapshots", "label", "child"]), /^containerd\.io\/gc\.root=\S+,x=y\n$/, "label without pairs prints the current labels");

    const parent = await ctrmeta([...ns, "snapshots", "rm", "base"]);
    assert.equal(parent.code, 1);
    assert.equal(parent.stdout, "");
    assert.equal(parent.stderr, 'ctrmeta: failed to remove "base": cannot remove snapshot with child: failed precondition\n');

    const ghost = await ctrmeta([...ns, "snapshots", "rm", "ghost"]);
    assert.equal(ghost.code, 1);
    assert.equal(ghost.stderr, 'ctrmeta: failed to remove "ghost": snapshot ghost does not exist: not found\n');

    assert.equal(await ok([...ns, "snapshots", "rm", "child", "ro", "base"]), "");
    assert.equal(await ok([...ns, "snapshots", "ls"]), "KEY PARENT KIND \n");
  });

  it("snapshots --snapshotter and env", async () => {
    const ns = ["-n", "snappers"];
    await ok([...ns, "snapshots", "--snapshotter", "native", "prepare", "n1"]);
    assert.match(await ok([...ns, "snapshots", "--snapshotter", "native", "ls"]), /^n1 +Active +$/m);
    assert.equal(await ok([...ns, "snapshots", "ls"]), "KEY PARENT KIND \n", "the default snapshotter is overlayfs");
    const fromEnv = await ok([...ns, "snapshots", "ls"], { env: { ...BASE_ENV, CONTAINERD_SNAPSHOTTER: "native" } });
    assert.match(fromEnv, /^n1 +Active +$/m);

    const unknown = await ctrmeta([...ns, "snapshots", "--snapshotter", "bogus", "ls"]);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, "ctrmeta: snapshotter not loaded: bogus: invalid argument\n");
  });

  it("leases create and expiry labels", async () => {
    const ns = ["-n", "leasing"];
    const before = Date.now();
    assert.equal(await ok([...ns, "leases", "create", "--id", "build-1", "purpose=ci"]), "build-1\n");
    const shortId = (await ok([...ns, "leases", "create", "--expires", "1h30m"])).trim();
    assert.match(shortId, /^\S+$/, "create prints a generated id");
    assert.equal(await ok([...ns, "leases", "create", "-x", "0", "--id", "forever"]), "forever\n");
    const afterCreate = Date.now();

    const table = await ok([...ns, "leases", "ls"]);
    const header = lines(table)[0]!;
    assert.match(header, /^ID +CREATED AT +LABELS +$/);
    const cells = (id: string) => {
      const line = row(table, id);
      const created = line.slice(header.indexOf("CREATED AT"), header.indexOf("LABELS")).trim();
      const labels = line.slice(header.indexOf("LABELS")).trim();
      return { created, labels };
    };
    const expiry = (labels: string) => {
      const value = /containerd\.io\/gc\.expire=([^,]+)/.exec(labels)?.[1] ?? "";
      assert.match(value, UTC_RFC3339, `gc.expire in ${labels}`);
      return Date.parse(value);
    };

    const build = cells("build-1");
    assert.match(build.created, LOCAL_RFC3339);
    assert.match(build.labels, /^containerd\.io\/gc\.expire=\S+,purpose=ci$/);
    const day = 24 * 3_600_000;
    const buildExpiry = expiry(build.labels);
    // gc.expire has whole seconds, so it may be up to 1 s earlier than the exact expiry.
    assert.ok(buildExpiry >= before + day - 1000, "create defaults to --expires 24h, as ctr does");
    assert.ok(buildExpiry <= afterCreate + day, "create defaults to --expires 24h, as ctr does");

    const shortExpiry = expiry(cells(shortId).labels);
    const ninetyMinutes = 90 * 60_000;
    assert.ok(shortExpiry >= before + ninetyMinutes - 1000, "--expires 1h30m");
    assert.ok(shortExpiry <= afterCreate + ninetyMinutes, "--expires 1h30m");

    assert.equal(cells("forever").labels, "-", "--expires 0 sets no expiry");

    const kolkata = await ok([...ns, "leases", "ls"], { env: { ...BASE_ENV, TZ: "Asia/Kolkata" } });
    assert.match(row(kolkata, "build-1"), /^build-1 +\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+05:30 /, "CREATED AT is local time, as with ctr");

    assert.deepEqual(lines(await ok([...ns, "leases", "ls", "-q"])).sort(), ["build-1", "forever", shortId].sort());
    assert.equal(await ok([...ns, "leases", "ls", "-q", "labels.purpose==ci"]), "build-1\n");

    const badDuration = await ctrmeta([...ns, "leases", "create", "--expires", "5x"]);
    assert.equal(badDuration.code, 1);
    assert.equal(badDuration.stderr, "ctrmeta: --expires 5x: expected a duration such as 1h or 30m: invalid argument\n");

    assert.equal(await ok([...ns, "leases", "rm", shortId, "forever"]), `${shortId}\nforever\n`);
    assert.equal(await ok([...ns, "leases", "ls", "-q"]), "build-1\n");
  });

  it("leases resources and rm --sync", async () => {
    const ns = ["-n", "leased"];
    const blob = digest("7");
    assert.equal(await ok([...ns, "leases", "create", "--id", "hold"]), "hold\n");
    await ok([...ns, "content", "commit", blob, "--size", "7", "--lease", "hold"]);
    await ok([...ns, "snapshots", "prepare", "held", "--lease", "hold"]);

    assert.equal(await ok([...ns, "leases", "add-resource", "hold", "ingests", "upload-1"]), "");
    // Columns are as wide as their widest cell plus one space: 19 + 1 and 71 + 1.
    const resourceRow = (type: string, id: string) => `${type.padEnd(20)}${id.padEnd(72)}\n`;
    assert.equal(
      await ok([...ns, "leases", "resources", "hold"]),
      resourceRow("TYPE", "ID") + resourceRow("content", blob) + resourceRow("ingests", "upload-1") + resourceRow("snapshots/overlayfs", "held"),
    );

    assert.equal(await ok([...ns, "leases", "delete-resource", "hold", "ingests", "upload-1"]), "");
    assert.doesNotMatch(await ok([...ns, "leases", "resources", "hold"]), /upload-1/);

    assert.equal(await ok([...ns, "leases", "rm", "--sync", "hold"]), "hold\n");
    const blobGone = await ctrmeta([...ns, "content", "info", blob]);
    assert.equal(blobGone.code, 1, "the collection of --sync removed the blob the lease held");
    const snapshotGone = await ctrmeta([...ns, "snapshots", "info", "held"]);
    assert.equal(snapshotGone.code, 1, "the collection of --sync removed the snapshot the lease held");

    const missing = await ctrmeta([...ns, "leases", "rm", "ghost"]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'ctrmeta: lease "ghost": not found\n');

    const noIds = await ctrmeta([...ns, "leases", "rm"]);
    assert.equal(noIds.code, 1);
    assert.equal(noIds.stderr, "error: missing required argument 'ids'\n");
  });

  it("gc run, explain and status", async () => {
    const ns = ["-n", "gcns"];
    const manifest = digest("a");
    const layer = digest("b");
    const garbage = digest("c");
    await ok([...ns, "i", "create", "gc-img:1", "--digest", manifest, "--size", "10"]);
    await ok([...ns, "content", "commit", manifest, "--size", "10", `containerd.io/gc.ref.content.l.0=${layer}`]);
    await ok([...ns, "content", "commit", layer, "--size", "20"]);
    await ok([...ns, "content", "commit", garbage, "--size", "30"]);

    assert.equal(
      await ok([...ns, "gc", "explain", "content", layer]),
      `content ${layer} in namespace gcns is kept by:\n` +
        "  root image gc-img:1\n" +
        `    -> content ${manifest}\n` +
        `    -> content ${layer}\n`,
    );
    assert.equal(
      await ok([...ns, "gc", "explain", "content", garbage]),
      `content ${garbage} in namespace gcns is unreferenced: the next collection removes it\n`,
    );

    const missing = await ctrmeta([...ns, "gc", "explain", "content", digest("d")]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, `ctrmeta: content "${digest("d")}" in namespace "gcns": not found\n`);

    assert.match(
      await ok(["gc"]),
      /^removed \d+ content, \d+ snapshots, \d+ leases \(\d+ candidates, \d+ skipped, \d+ marked\) in \d+ ms\n$/,
    );
    assert.equal((await ctrmeta([...ns, "content", "info", garbage])).code, 1, "the collection removed the unreferenced blob");
    assert.equal((await ctrmeta([...ns, "content", "info", layer])).code, 0, "the collection kept the referenced blob");

    for (const args of [["gc", "--json"], ["gc", "run", "--json"]]) {
      const stats = JSON.parse(await ok(args)) as { startedAt: string; marked: number; removed: { content: number; snapshots: number; leases: number } };
      assert.equal(typeof stats.startedAt, "string", args.join(" "));
      assert.ok(stats.marked >= 3, `${args.join(" ")}: the image and its two blobs are marked`);
      assert.deepEqual(Object.keys(stats.removed).sort(), ["content", "leases", "snapshots"]);
    }

    const status = JSON.parse(await ok(["gc", "status"])) as { state: string; collections: number; lastStats: { marked: number } };
    assert.equal(typeof status.state, "string");
    assert.ok(status.collections >= 3, `collections ${status.collections}`);
    assert.ok(status.lastStats.marked >= 3);

    // Every column header is one word, so a script can split the table on spaces.
    const table = (await ok(["status"])).split("\n");
    const header = (line: string) => line.trim().split(/\s+/);
    assert.deepEqual(header(table.find((line) => line.startsWith("STREAM"))!), ["STREAM", "MESSAGES", "BYTES", "LAST_SEQ", "REPLICAS"]);
    assert.deepEqual(header(table.find((line) => line.startsWith("INSTANCE"))!), ["INSTANCE", "LEADER", "VIEW_SEQ", "LAG_EVENTS", "LAG_SECONDS"]);

    const badKind = await ctrmeta([...ns, "gc", "explain", "bogus", "x"]);
    assert.equal(badKind.code, 1);
    assert.equal(badKind.stderr, "ctrmeta: kind bogus: expected content, snapshot, lease, image or container: invalid argument\n");
  });

  it("events replay until SIGINT", async () => {
    const ns = ["-n", "ev-replay"];
    await ok([...ns, "i", "create", "e:1", "--digest", digest("e"), "--size", "1"]);
    await ok([...ns, "i", "label", "e:1", "a=b"]);
    await ok([...ns, "i", "rm", "e:1"]);

    const json = startCli(["--server", stack.nats.url, ...ns, "events", "--from-seq", "1", "--json"]);
    await waitFor(() => lines(json.output()).length >= 3, 10_000, "three replayed notifications");
    json.child.kill("SIGINT");
    const jsonResult = await json.done;
    assert.equal(jsonResult.code, 0);
    assert.equal(jsonResult.stderr, "");
    const envelopes = lines(jsonResult.stdout).map(
      (line) => JSON.parse(line) as { seq: number; namespace: string; topic: string; timestamp: string; event: { value: { name: string } } },
    );
    assert.deepEqual(envelopes.map((envelope) => envelope.topic), ["/images/create", "/images/update", "/images/delete"]);
    assert.ok(envelopes.every((envelope) => envelope.namespace === "ev-replay" && envelope.event.value.name === "e:1"));
    assert.ok(envelopes[0]!.seq < envelopes[1]!.seq, "sequences increase");
    assert.ok(envelopes[1]!.seq < envelopes[2]!.seq, "sequences increase");

    const text = startCli(["--server", stack.nats.url, ...ns, "events", "--from-seq", "1"]);
    await waitFor(() => lines(text.output()).length >= 3, 10_000, "three replayed lines");
    text.child.kill("SIGINT");
    const textResult = await text.done;
    assert.equal(textResult.code, 0);
    assert.match(lines(textResult.stdout)[0]!, /^\d+ \d{4}-\d\d-\d\dT\S+Z ev-replay \/images\/create \{"name":"e:1","labels":\{\}\}$/);

    const badTime = await ctrmeta([...ns, "events", "--from-time", "yesterday"]);
    assert.equal(badTime.code, 1);
    assert.match(badTime.stderr, /^ctrmeta: --from-time yesterday: expected an RFC 3339 time such as 2024-05-01T12:00:00Z \(not in the form/);
    const noSuchDay = await ctrmeta([...ns, "events", "--from-time", "2026-02-30T00:00:00Z"]);
    assert.equal(noSuchDay.code, 1);
    assert.match(noSuchDay.stderr, /\(day 30 is out of range for 2026-02\): invalid argument\n$/);

    // A topic nothing is published on is a likely typo: warned about, then followed.
    const unknownTopic = startCli(["--server", stack.nats.url, ...ns, "events", "--topic", "/containers/bogus", "--from-seq", "1"]);
    await waitFor(() => unknownTopic.errors().includes("warning"), 10_000, "the warning");
    unknownTopic.child.kill("SIGTERM");
    const unknownResult = await unknownTopic.done;
    assert.equal(unknownResult.stdout, "");
    assert.match(unknownResult.stderr, /^ctrmeta: warning: --topic \/containers\/bogus is not a topic ctrmeta publishes, so it matches no event; known topics: \/containers\/create /);
  });

  it("events live topic until SIGINT", async () => {
    const ns = ["-n", "ev-live"];
    const live = startCli(["--server", stack.nats.url, ...ns, "events", "--topic", "/images/create"]);
    // The command prints nothing until subscribed, so create images until one shows up.
    for (let attempt = 1; lines(live.output()).length === 0; attempt++) {
      assert.ok(attempt <= 40, "no live notification within 40 attempts");
      await ok([...ns, "i", "create", `live:${attempt}`, "--digest", digest("f"), "--size", "1"]);
      await ok([...ns, "i", "label", `live:${attempt}`, "seen=no"]);
      await sleep(100);
    }
    await ok(["-n", "ev-elsewhere", "i", "create", "other:1", "--digest", digest("f"), "--size", "1"]);
    await ok([...ns, "i", "create", "live:last", "--digest", digest("f"), "--size", "1"]);
    await waitFor(() => live.output().includes("live:last"), 10_000, "the last live notification");

    live.child.kill("SIGINT");
    const result = await live.done;
    assert.equal(result.code, 0);
    assert.equal(result.stderr, "");
    for (const line of lines(result.stdout)) {
      assert.match(line, /^\d+ \d{4}-\d\d-\d\dT\S+Z ev-live \/images\/create \{"name":"live:[^"]+","labels":\{\}\}$/);
    }
  });

  it("events exit on closed pipe", async () => {
    const ns = ["-n", "ev-pipe"];
    await ok([...ns, "i", "create", "p:1", "--digest", digest("d"), "--size", "1"]);
    const events = startCli(["--server", stack.nats.url, ...ns, "events", "--from-seq", "1"]);
    await waitFor(() => events.output().length > 0, 10_000, "the first notification");

    events.child.stdout.destroy();
    await ok([...ns, "i", "create", "p:2", "--digest", digest("d"), "--size", "1"]);
    const result = await events.done;
    assert.equal(result.code, 0);
    assert.equal(result.stderr, "");
  });

  it("usage errors from commander", async () => {
    const cases: Array<[string[], string]> = [
      [["bogus"], "error: unknown command 'bogus'\n"],
      [["i", "bogus"], "error: unknown command 'bogus'\n"],
      [["i", "ls", "--bogus"], "error: unknown option '--bogus'\n"],
      [["ns", "create"], "error: missing required argument 'name'\n"],
    ];
    for (const [args, stderr] of cases) {
      const result = await ctrmeta(args);
      assert.equal(result.code, 1, args.join(" "));
      assert.equal(result.stdout, "", args.join(" "));
      assert.equal(result.stderr, stderr, args.join(" "));
    }
  });

  it("global option errors", async () => {
    const invalid = await ctrmeta(["--namespace", "Bad_NS!", "i", "ls"]);
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /^ctrmeta: namespace validation: identifier "Bad_NS!" must match .*: invalid argument\n$/);

    const fromEnv = await ctrmeta(["i", "ls"], { env: { ...BASE_ENV, CONTAINERD_NAMESPACE: "bad/ns" } });
    assert.equal(fromEnv.code, 1);
    assert.match(fromEnv.stderr, /^ctrmeta: namespace validation: /);

    const timeout = await ctrmeta(["--timeout", "0", "ns", "ls"]);
    assert.equal(timeout.code, 1);
    assert.equal(timeout.stderr, "ctrmeta: --timeout 0: expected milliseconds > 0: invalid argument\n");

    const port = await freePort();
    const down = await startCli(["--server", `nats://127.0.0.1:${port}`, "ns", "ls"]).done;
    assert.equal(down.code, 1);
    assert.match(down.stderr, new RegExp(`^ctrmeta: cannot connect to nats://127\\.0\\.0\\.1:${port}: .*pass --server URL\\)\\n$`));
  });
});
