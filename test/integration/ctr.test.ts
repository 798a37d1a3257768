/**
 * Runs containerd's own `ctr` (Debian's containerd package) against ctrmeta's gRPC
 * socket and against a private containerd started here, and compares what each
 * command prints and its exit code. Timestamps, generated lease ids and content
 * ages are masked. Runs of blanks are collapsed, because tabwriter pads columns to
 * the widest cell and a masked time can be shorter on one side. Label lists, which
 * ctr prints in Go's random map order, are sorted.
 *
 * The private containerd has its own root, state and socket under a temporary
 * folder and only the plugins ctr's metadata commands need: no CRI, no runtimes,
 * no tasks, no snapshotters that mount anything.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { createReadStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ContainerdClient } from "../../src/grpc/client.js";
import { ContainerdProcess, findExecutable } from "../helpers/containerd.js";
import { startStack, type Stack } from "../helpers/nats.js";
import { missingContainerdProtos } from "../../src/grpc/protos.js";

const CTR = findExecutable("ctr");
const CONTAINERD = findExecutable("containerd");
const SKIP = CTR && CONTAINERD ? (missingContainerdProtos() ?? false) : "ctr or containerd is not on PATH: install Debian's containerd package (npm run setup -- --grpc) to run these tests";

const NAMESPACE = "ctr-test";
interface CtrResult {
  stdout: string;
  stderr: string;
  code: number;
}

function runCtr(address: string, args: string[], stdin?: string): Promise<CtrResult> {
  return new Promise((resolve) => {
    const child = execFile(CTR!, ["--address", address, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      let code = 0;
      if (error) code = typeof error.code === "number" ? error.code : 1;
      resolve({ stdout, stderr, code });
    });
    if (stdin !== undefined) {
      createReadStream(stdin).pipe(child.stdin!);
    } else {
      child.stdin?.end();
    }
  });
}

const TIME = /\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z| \+0000 UTC)?/g;
/** `<digits>-<4 base64url characters>`: containerd uses the nanosecond of the second, ctrmeta a monotonic clock. */
const GENERATED_LEASE = /(?<=^|\s)\d+-[A-Za-z0-9_-]{4}(?=\s|$)/gm;
const AGE = /\b(?:Less than a second|About a minute|About an hour|\d+ (?:seconds|minutes|hours))\b/g;
const LABEL_LIST = /(?<=^|\s)[^\s=,]+=[^\s,]*(?:,[^\s=,]+=[^\s,]*)+(?=\s|$)/gm;

/** Mask what differs between two correct runs, so that the rest compares exactly. */
export function normalizeOutput(text: string): string {
  return text
    .replace(TIME, "<time>")
    .replace(GENERATED_LEASE, "<lease-id>")
    .replace(AGE, "<age>")
    .split("\n")
    .map((line) => line.replace(/[ \t]+/g, " ").trimEnd())
    .map((line) => line.replace(LABEL_LIST, (list) => list.split(",").sort().join(",")))
    .join("\n");
}

interface Compared {
  ctrmeta: CtrResult;
  containerd: CtrResult;
}

describe("ctr against ctrmeta and containerd", { skip: SKIP }, () => {
  let dir: string;
  let stack: Stack;
  let containerd: ContainerdProcess;
  let ctrmetaSocket: string;
  let rootfs: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "ctrmeta-ctr-"));
    rootfs = join(dir, "rootfs");
    mkdirSync(rootfs);
    ctrmetaSocket = join(dir, "ctrmeta.sock");
    mkdirSync(join(dir, "containerd"));
    containerd = new ContainerdProcess(join(dir, "containerd"));
    stack = await startStack({ grpcAddress: ctrmetaSocket });
    await containerd.start(async () => {
      const version = await runCtr(containerd.socket, ["version"]);
      if (version.code !== 0) throw new Error(version.stderr);
    });
  });

  after(async () => {
    await containerd?.stop();
    await stack?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Run the same ctr command on both, assert equal normalized output and exit code, and return both results. */
  async function both(args: string[], options: { namespace?: string | null; expectCode?: number } = {}): Promise<Compared> {
    const namespace = options.namespace === undefined ? ["--namespace", NAMESPACE] : options.namespace === null ? [] : ["--namespace", options.namespace];
    const full = [...namespace, ...args];
    const [ctrmeta, real] = await Promise.all([runCtr(ctrmetaSocket, full), runCtr(containerd.socket, full)]);
    const command = `ctr ${full.join(" ")}`;
    assert.equal(normalizeOutput(ctrmeta.stdout), normalizeOutput(real.stdout), `${command}: standard output`);
    assert.equal(normalizeOutput(ctrmeta.stderr), normalizeOutput(real.stderr), `${command}: standard error`);
    assert.equal(ctrmeta.code, real.code, `${command}: exit code`);
    if (options.expectCode !== undefined) assert.equal(real.code, options.expectCode, `${command}: containerd's exit code\n${real.stderr}`);
    return { ctrmeta, containerd: real };
  }

  it("masks timestamps, lease ids and label order", () => {
    assert.equal(normalizeOutput("l1 2026-12-04T22:59:58Z a=1\n"), "l1 <time> a=1\n");
    assert.equal(normalizeOutput("9023955973901-lhZi\n"), "<lease-id>\n");
    assert.equal(normalizeOutput("z=w,a=b"), "a=b,z=w");
    assert.equal(normalizeOutput("sha256:00 88B 2 seconds z=w,a=b\n"), "sha256:00 88B <age> a=b,z=w\n");
  });

  it("namespaces create, ls, label", async () => {
    await both(["namespaces", "create", NAMESPACE, "owner=qa", "tier=silver"], { namespace: null, expectCode: 0 });
    await both(["namespaces", "create", NAMESPACE], { namespace: null, expectCode: 1 });
    await both(["namespaces", "create", "bad/name"], { namespace: null, expectCode: 1 });
    await both(["namespaces", "ls"], { namespace: null, expectCode: 0 });
    await both(["namespaces", "label", NAMESPACE, "tier=gold", "zone=eu"], { namespace: null, expectCode: 0 });
    await both(["namespaces", "label", NAMESPACE, "owner="], { namespace: null, expectCode: 0 });
    const listed = await both(["namespaces", "ls"], { namespace: null, expectCode: 0 });
    assert.match(listed.ctrmeta.stdout, /ctr-test\s+tier=gold,zone=eu/);
    await both(["namespaces", "ls", "-q"], { namespace: null, expectCode: 0 });
  });

  it("containers create, ls, info, label, rm", async () => {
    await both(["containers", "create", "--rootfs", "--label", "app=web", "--label", "env=dev", rootfs, "web-1"], { expectCode: 0 });
    await both(["containers", "create", "--rootfs", rootfs, "web-1"], { expectCode: 1 });
    await both(["containers", "create", "--rootfs", "--runtime", "io.containerd.runc.v2", rootfs, "web-2"], { expectCode: 0 });
    await both(["containers", "ls"], { expectCode: 0 });
    await both(["containers", "ls", "-q"], { expectCode: 0 });
    await both(["containers", "ls", "labels.app==web"], { expectCode: 0 });
    await both(["containers", "ls", "labels.app=="], { expectCode: 1 });
    await both(["containers", "ls", "id~=["], { expectCode: 0 });
    const info = await both(["containers", "info", "web-1"], { expectCode: 0 });
    assert.match(info.ctrmeta.stdout, /"app": "web"/);
    await both(["containers", "info", "--spec", "web-1"], { expectCode: 0 });
    await both(["containers", "info", "missing"], { expectCode: 1 });
    await both(["containers", "label", "web-1", "env=prod", "extra=1"], { expectCode: 0 });
    await both(["containers", "label", "web-1", "extra="], { expectCode: 0 });
    await both(["containers", "info", "web-1"], { expectCode: 0 });
    await both(["containers", "label", "missing", "a=b"], { expectCode: 1 });
    await both(["containers", "rm", "web-2", "missing"], { expectCode: 1 });
    await both(["containers", "ls"], { expectCode: 0 });
  });

  it("images ls, label, rm", async () => {
    const images = [
      { name: "docker.io/library/app:1.0", labels: { tier: "web" }, digest: `sha256:${"a".repeat(64)}` },
      { name: "docker.io/library/db:2.1", labels: {}, digest: `sha256:${"b".repeat(64)}` },
    ];
    for (const socket of [ctrmetaSocket, containerd.socket]) {
      const client = ContainerdClient.connect(socket);
      try {
        for (const image of images) {
          const target = { mediaType: "application/vnd.oci.image.index.v1+json", digest: image.digest, size: 347 };
          await client.unary("images", "Create", { image: { name: image.name, labels: image.labels, target } }, { namespace: NAMESPACE });
        }
      } finally {
        client.close();
      }
    }
    await both(["images", "ls"], { expectCode: 0 });
    await both(["images", "ls", "-q"], { expectCode: 0 });
    await both(["images", "ls", "name~=app"], { expectCode: 0 });
    await both(["images", "label", "docker.io/library/app:1.0", "owner=qa", "release=2"], { expectCode: 0 });
    await both(["images", "label", "docker.io/library/app:1.0", "release="], { expectCode: 0 });
    await both(["images", "label", "missing:1", "a=b"], { expectCode: 1 });
    await both(["images", "ls"], { expectCode: 0 });
    // ctr warns about a missing image and still exits 0.
    const removed = await both(["images", "rm", "docker.io/library/db:2.1", "missing:1"], { expectCode: 0 });
    assert.match(removed.ctrmeta.stderr, /missing:1: image not found/);
    await both(["images", "ls", "-q"], { expectCode: 0 });
  });

  it("leases create, ls, rm", async () => {
    await both(["leases", "create", "--id", "lease-1", "team=qa"], { expectCode: 0 });
    await both(["leases", "create", "--id", "lease-1"], { expectCode: 1 });
    await both(["leases", "create", "--id", "lease-2", "--expires", "0"], { expectCode: 0 });
    const generated = await both(["leases", "create"], { expectCode: 0 });
    assert.match(generated.ctrmeta.stdout, /^\d+-[A-Za-z0-9_-]{4}\n$/);
    await both(["leases", "ls"], { expectCode: 0 });
    await both(["leases", "ls", "-q"], { expectCode: 0 });
    await both(["leases", "ls", "id==lease-1"], { expectCode: 0 });
    await both(["leases", "rm", "lease-1", "missing"], { expectCode: 1 });
    await both(["leases", "ls", "-q"], { expectCode: 0 });
  });

  it("content ls, label", async () => {
    const blob = join(dir, "blob.json");
    const data = '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}';
    writeFileSync(blob, data);
    const digest = `sha256:${createHash("sha256").update(data).digest("hex")}`;
    const size = Buffer.byteLength(data);

    // An image that targets the blob keeps it from garbage collection on both sides.
    for (const socket of [ctrmetaSocket, containerd.socket]) {
      const client = ContainerdClient.connect(socket);
      try {
        const target = { mediaType: "application/vnd.oci.image.index.v1+json", digest, size };
        await client.unary("images", "Create", { image: { name: "registry.test/blob-holder:1", target } }, { namespace: NAMESPACE });
      } finally {
        client.close();
      }
    }
    // containerd gets the bytes from ctr; ctrmeta gets the record a node agent would commit.
    const ingest = await runCtr(containerd.socket, ["--namespace", NAMESPACE, "content", "ingest", "--expected-digest", digest, "--expected-size", String(size), "blob-1"], blob);
    assert.equal(ingest.code, 0, ingest.stderr);
    await stack.client.content.commit({ digest, size }, { namespace: NAMESPACE });

    await both(["content", "ls"], { expectCode: 0 });
    await both(["content", "ls", "-q"], { expectCode: 0 });
    await both(["content", "label", digest, "owner=qa", "kind=index"], { expectCode: 0 });
    await both(["content", "label", digest, "owner="], { expectCode: 0 });
    await both(["content", "ls"], { expectCode: 0 });
    await both(["content", "label", `sha256:${"c".repeat(64)}`, "a=b"], { expectCode: 1 });
    await both(["content", "label", "not-a-digest", "a=b"], { expectCode: 1 });
  });

  it("events while another ctr makes changes", async () => {
    const probe = "events-probe";
    const watchers = [ctrmetaSocket, containerd.socket].map((socket) => {
      const child = spawn(CTR!, ["--address", socket, "events"], { stdio: ["ignore", "pipe", "pipe"] });
      const watcher = { child, lines: [] as string[], buffer: "" };
      child.stdout!.on("data", (chunk: Buffer) => {
        watcher.buffer += chunk.toString("utf8");
        const parts = watcher.buffer.split("\n");
        watcher.buffer = parts.pop()!;
        watcher.lines.push(...parts);
      });
      return watcher;
    });
    try {
      // A subscription is live once it has seen an event: make probe events until both have.
      for (let attempt = 0; watchers.some((watcher) => !watcher.lines.some((line) => line.includes(probe))); attempt++) {
        assert.ok(attempt < 50, "ctr events saw no event within 10 s");
        await both(["namespaces", "create", probe], { namespace: null });
        await both(["namespaces", "rm", probe], { namespace: null });
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const seen = watchers.map((watcher) => watcher.lines.length);

      await both(["namespaces", "create", "ev-ns", "team=blue"], { namespace: null, expectCode: 0 });
      await both(["containers", "create", "--rootfs", "--label", "k=v", rootfs, "ev-1"], { namespace: "ev-ns", expectCode: 0 });
      await both(["containers", "label", "ev-1", "q=r"], { namespace: "ev-ns", expectCode: 0 });
      await both(["containers", "rm", "ev-1"], { namespace: "ev-ns", expectCode: 0 });
      await both(["images", "label", "docker.io/library/app:1.0", "stage=events"], { expectCode: 0 });
      await both(["images", "rm", "docker.io/library/app:1.0"], { expectCode: 0 });
      await both(["namespaces", "label", "ev-ns", "team=green"], { namespace: null, expectCode: 0 });
      await both(["namespaces", "rm", "ev-ns"], { namespace: null, expectCode: 0 });

      const expected = 8;
      const deadline = Date.now() + 10_000;
      while (watchers.some((watcher, index) => watcher.lines.length - seen[index]! < expected) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const [ctrmetaLines, containerdLines] = watchers.map((watcher, index) =>
        watcher.lines.slice(seen[index]).filter((line) => !line.includes(probe)).map(normalizeOutput),
      );
      // containerd 1.6 sends namespace create and update events in the caller's
      // namespace; ctrmeta sends them in the target's, as containerd 1.7.9 does.
      const departure = /^<time> default (\/namespaces\/(?:create|update)) (\{"name":"([^"]+)".*)$/;
      const adjusted = containerdLines!.map((line) => line.replace(departure, (_all, topic: string, body: string, name: string) => `<time> ${name} ${topic} ${body}`));
      assert.deepEqual(ctrmetaLines, adjusted);
      assert.equal(ctrmetaLines!.length, expected);
    } finally {
      for (const watcher of watchers) watcher.child.kill("SIGTERM");
    }
  });

  it("namespaces rm once empty", async () => {
    await both(["namespaces", "rm", NAMESPACE], { namespace: null, expectCode: 1 });
    await both(["containers", "rm", "web-1"], { expectCode: 0 });
    await both(["leases", "rm", "lease-2"], { expectCode: 0 });
    // The lease ctr generated has a different id on each server: remove each server's own.
    const generated = await both(["leases", "ls", "-q"], { expectCode: 0 });
    const removed = await Promise.all([
      runCtr(ctrmetaSocket, ["--namespace", NAMESPACE, "leases", "rm", generated.ctrmeta.stdout.trim()]),
      runCtr(containerd.socket, ["--namespace", NAMESPACE, "leases", "rm", generated.containerd.stdout.trim()]),
    ]);
    for (const result of removed) assert.equal(result.code, 0, result.stderr);
    const digests = await both(["content", "ls", "-q"], { expectCode: 0 });
    await both(["content", "rm", ...digests.containerd.stdout.split("\n").filter((line) => line !== "")], { expectCode: 0 });
    // Only now: without the image, garbage collection may remove the blob at a different moment on each server.
    await both(["images", "rm", "registry.test/blob-holder:1"], { expectCode: 0 });
    await both(["namespaces", "rm", NAMESPACE], { namespace: null, expectCode: 0 });
    await both(["namespaces", "ls", "-q"], { namespace: null, expectCode: 0 });
  });
});
