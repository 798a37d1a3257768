/**
 * A collection's event re-checks its candidates when it is applied. These tests
 * compare that check, which marks from the objects written since the view, with a
 * mark of the whole namespace, over random histories.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import type { StringMap } from "../../src/domain/labels.js";
import { emptyState, type MetadataState } from "../../src/domain/state.js";
import { parseRfc3339 } from "../../src/domain/time.js";
import type { MetadataEvent } from "../../src/events/types.js";
import type { GcRemoval } from "../../src/gc/events.js";
import type { GcOutcome } from "../../src/gc/evolve.js";
import { mergeSorted } from "../../src/gc/collector.js";
import { mark, markNamespaceSteps, sweepCandidates, sweepLeasesAndSnapshots, unreachableContent } from "../../src/gc/mark.js";
import { sortBytes } from "../../src/domain/order.js";
import { evolve } from "../../src/projections/evolve.js";

const STARTED_AT = "2024-05-01T12:00:00Z";
const NOW = parseRfc3339(STARTED_AT)!;
const STAMP = "2024-05-01T00:00:00.000000000Z";
const NAMESPACES = ["ns", "other"];
const SNAPSHOTTER = "overlayfs";

/** A linear congruential generator in [0, 1), so that a failing seed can be rerun. */
function random(seed: number): () => number {
  let state = seed % 2147483648;
  return () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
}

function blob(index: number): string {
  return `sha256:${index.toString(16).padStart(64, "0")}`;
}

/** Random events over a few blobs, snapshots, images, containers and leases. */
class History {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = random(seed);
  }

  private pick<T>(values: readonly T[]): T {
    return values[Math.floor(this.next() * values.length)]!;
  }

  private chance(probability: number): boolean {
    return this.next() < probability;
  }

  private labels(): StringMap {
    const labels: StringMap = {};
    const references = Math.floor(this.next() * 3);
    for (let index = 0; index < references; index++) {
      if (this.chance(0.6)) labels[`containerd.io/gc.ref.content.${index}`] = blob(Math.floor(this.next() * 16));
      else labels[`containerd.io/gc.ref.snapshot.${SNAPSHOTTER}/${index}`] = `s${Math.floor(this.next() * 10)}`;
    }
    if (this.chance(0.05)) labels["containerd.io/gc.root"] = "yes";
    return labels;
  }

  namespace(): string {
    return this.chance(0.8) ? NAMESPACES[0]! : NAMESPACES[1]!;
  }

  event(): MetadataEvent {
    const digest = blob(Math.floor(this.next() * 16));
    const snapshot = `s${Math.floor(this.next() * 10)}`;
    const lease = `lease-${Math.floor(this.next() * 3)}`;
    switch (Math.floor(this.next() * 13)) {
      case 0:
      case 1:
        return { type: "content.committed", info: { digest, size: 1, labels: this.labels(), createdAt: STAMP, updatedAt: STAMP }, lease: this.chance(0.2) ? lease : undefined };
      case 2:
        return { type: "content.updated", info: { digest, size: 1, labels: this.labels(), createdAt: STAMP, updatedAt: STAMP } };
      case 3:
        return { type: "content.deleted", digest };
      case 4: {
        const parent = this.chance(0.5) ? `s${Math.floor(this.next() * 10)}` : "";
        const record = { snapshotter: SNAPSHOTTER, name: snapshot, parent, kind: "active" as const, labels: this.labels(), createdAt: STAMP, updatedAt: STAMP };
        return { type: "snapshot.prepared", snapshot: record, lease: this.chance(0.2) ? lease : undefined };
      }
      case 5: {
        const name = `s${Math.floor(this.next() * 10)}`;
        const record = { snapshotter: SNAPSHOTTER, name, parent: "", kind: "committed" as const, labels: this.labels(), createdAt: STAMP, updatedAt: STAMP };
        return { type: "snapshot.committed", key: snapshot, snapshot: record };
      }
      case 6:
        return { type: "snapshot.removed", snapshotter: SNAPSHOTTER, key: snapshot };
      case 7: {
        const target = { mediaType: "application/vnd.oci.image.index.v1+json", digest, size: 1, annotations: {} };
        return { type: "image.created", image: { name: `image-${Math.floor(this.next() * 4)}`, labels: this.labels(), target, createdAt: STAMP, updatedAt: STAMP } };
      }
      case 8:
        return { type: "image.deleted", name: `image-${Math.floor(this.next() * 4)}` };
      case 9: {
        const container = {
          id: `c-${Math.floor(this.next() * 4)}`,
          labels: this.labels(),
          image: "",
          runtime: { name: "io.containerd.runc.v2" },
          snapshotter: SNAPSHOTTER,
          snapshotKey: snapshot,
          extensions: {},
          sandbox: "",
          createdAt: STAMP,
          updatedAt: STAMP,
        };
        return { type: this.chance(0.5) ? "container.created" : "container.updated", container };
      }
      case 10:
        return { type: "container.deleted", id: `c-${Math.floor(this.next() * 4)}` };
      case 11: {
        const labels: StringMap = {};
        if (this.chance(0.3)) labels["containerd.io/gc.expire"] = this.chance(0.5) ? "2024-01-01T00:00:00Z" : "2025-01-01T00:00:00Z";
        if (this.chance(0.3)) labels["containerd.io/gc.flat"] = "yes";
        return this.chance(0.3) ? { type: "lease.deleted", id: lease } : { type: "lease.created", lease: { id: lease, labels, createdAt: STAMP } };
      }
      default: {
        const resource = this.chance(0.5) ? { type: "content", id: digest } : { type: `snapshots/${SNAPSHOTTER}`, id: snapshot };
        return { type: "lease.resource.added", id: lease, resource };
      }
    }
  }
}

interface Trial {
  state: MetadataState;
  seq: number;
  viewSeq: number;
  candidates: GcRemoval[];
}

/** Apply `before` random events, take the collector's view, then apply `after` more. */
function play(seed: number, before: number, after: number): Trial {
  const history = new History(seed);
  const state = emptyState();
  let seq = 0;
  for (let index = 0; index < before; index++) evolve(state, history.namespace(), history.event(), ++seq);
  const viewSeq = seq;
  const candidates = sweepCandidates(state, mark(state, NOW));
  for (let index = 0; index < after; index++) evolve(state, history.namespace(), history.event(), ++seq);
  return { state, seq, viewSeq, candidates };
}

function describe(removal: GcRemoval): string {
  return `${removal.namespace} ${removal.kind} ${removal.snapshotter ?? ""}/${removal.key}`;
}

/** List the candidates that a mark of the whole state now finds present and unreachable. */
function stillUnreachable({ state, candidates }: Trial): string[] {
  const result = mark(state, NOW);
  return candidates
    .filter((removal) => {
      const namespace = state.namespaces.get(removal.namespace);
      const present =
        removal.kind === "content"
          ? namespace?.content.has(removal.key)
          : removal.kind === "lease"
            ? namespace?.leases.has(removal.key)
            : namespace?.snapshots.get(removal.snapshotter ?? "")?.has(removal.key);
      return present === true && !result.isReachable(removal);
    })
    .map(describe)
    .sort();
}

function collect(trial: Trial): GcOutcome {
  const event: MetadataEvent = { type: "gc.collected", startedAt: STARTED_AT, viewSeq: trial.viewSeq, removals: trial.candidates };
  const verdict = evolve(trial.state, "", event, trial.seq + 1);
  assert.equal(verdict.rejected, undefined);
  return verdict.outcome as GcOutcome;
}

test("check from writes matches whole mark", () => {
  let wholeMarks = 0;
  let removed = 0;
  let keptCandidates = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const trial = play(seed, 60, 1 + (seed % 12));
    const expected = stillUnreachable(trial);
    const outcome = collect(trial);
    assert.deepEqual(outcome.removed.map(describe).sort(), expected, `seed ${seed}`);
    wholeMarks += outcome.wholeMarks;
    removed += outcome.removed.length;
    keptCandidates += trial.candidates.length - outcome.removed.length;
  }
  // The histories exercise every path: removals, candidates kept by new references,
  // and candidates that only a whole mark could settle.
  assert.ok(removed > 1000, `removed ${removed}`);
  assert.ok(keptCandidates > 100, `kept ${keptCandidates}`);
  assert.ok(wholeMarks > 0, `whole marks ${wholeMarks}`);
  assert.ok(wholeMarks < 300, `whole marks ${wholeMarks}`);
});

test("journal older than the view: whole mark", () => {
  for (let seed = 1; seed <= 200; seed++) {
    const trial = play(seed, 60, 1 + (seed % 12));
    const expected = stillUnreachable(trial);
    for (const namespace of trial.state.namespaces.values()) namespace.writes.complete = trial.seq;
    const outcome = collect(trial);
    assert.deepEqual(outcome.removed.map(describe).sort(), expected, `seed ${seed}`);
  }
});

test("container writes need no whole mark", () => {
  const state = emptyState();
  let seq = 0;
  for (let index = 0; index < 50; index++) {
    const info = { digest: blob(index), size: 1, labels: {}, createdAt: STAMP, updatedAt: STAMP };
    evolve(state, "ns", { type: "content.committed", info }, ++seq);
  }
  const viewSeq = seq;
  const candidates = sweepCandidates(state, mark(state, NOW));
  assert.equal(candidates.length, 50);
  for (let index = 0; index < 5; index++) {
    const labels = { "containerd.io/gc.ref.content": blob(index) };
    const container = { id: `c-${index}`, labels, image: "", runtime: { name: "io.containerd.runc.v2" }, snapshotter: "", snapshotKey: "", extensions: {}, sandbox: "", createdAt: STAMP, updatedAt: STAMP };
    evolve(state, "ns", { type: "container.created", container }, ++seq);
  }
  const outcome = collect({ state, seq, viewSeq, candidates });
  assert.equal(outcome.wholeMarks, 0);
  assert.equal(outcome.removed.length, 45);
  assert.equal(outcome.skipped, 5);
});

test("a full write journal drops its oldest half", async () => {
  const { WRITE_JOURNAL_LIMIT, newNamespaceState, recordWrite, writesAfter } = await import("../../src/domain/state.js");
  const namespace = newNamespaceState("ns");
  for (let seq = 1; seq <= WRITE_JOURNAL_LIMIT + 1; seq++) recordWrite(namespace, { seq, kind: "content", key: `k${seq}` });
  const complete = namespace.writes.complete;
  assert.ok(complete > 0);
  assert.ok(complete < WRITE_JOURNAL_LIMIT);
  assert.equal(writesAfter(namespace, complete - 1), undefined);
  assert.equal(writesAfter(namespace, complete)!.length, WRITE_JOURNAL_LIMIT + 1 - complete);
  assert.deepEqual(writesAfter(namespace, WRITE_JOURNAL_LIMIT - 1)!.map((written) => written.seq), [WRITE_JOURNAL_LIMIT, WRITE_JOURNAL_LIMIT + 1]);
});

/**
 * Play a collector's mark in small steps, with random events applied between them,
 * as commands run while a large namespace is marked. Candidates are the records
 * present when the mark started that it left unmarked.
 */
function playWithSlicedMark(seed: number, before: number, between: number, after: number): Trial {
  const history = new History(seed);
  const state = emptyState();
  let seq = 0;
  for (let index = 0; index < before; index++) evolve(state, history.namespace(), history.event(), ++seq);
  const viewSeq = seq;
  const candidates: GcRemoval[] = [];
  for (const name of NAMESPACES) {
    const namespace = state.namespaces.get(name);
    if (!namespace) continue;
    const digests = [...namespace.content.keys()];
    const leases = new Set(namespace.leases.keys());
    const snapshots = new Set([...namespace.snapshots.entries()].flatMap(([snapshotter, records]) => [...records.keys()].map((key) => `${snapshotter}/${key}`)));
    const steps = markNamespaceSteps(name, namespace, NOW, 1 + (seed % 3));
    let step = steps.next();
    while (!step.done) {
      for (let index = 0; index < between; index++) evolve(state, history.namespace(), history.event(), ++seq);
      step = steps.next();
    }
    const present = (removal: GcRemoval) => (removal.kind === "lease" ? leases.has(removal.key) : snapshots.has(`${removal.snapshotter}/${removal.key}`));
    candidates.push(...sweepLeasesAndSnapshots(name, namespace, step.value).filter(present));
    for (const digest of sortBytes(unreachableContent(name, digests, step.value))) candidates.push({ namespace: name, kind: "content", key: digest });
  }
  for (let index = 0; index < after; index++) evolve(state, history.namespace(), history.event(), ++seq);
  return { state, seq, viewSeq, candidates };
}

test("stepped mark with writes matches whole mark", () => {
  let removed = 0;
  let keptCandidates = 0;
  for (let seed = 1; seed <= 600; seed++) {
    const trial = playWithSlicedMark(seed, 60, seed % 2, seed % 5);
    const expected = stillUnreachable(trial);
    const outcome = collect(trial);
    assert.deepEqual(outcome.removed.map(describe).sort(), expected, `seed ${seed}`);
    removed += outcome.removed.length;
    keptCandidates += trial.candidates.length - outcome.removed.length;
  }
  assert.ok(removed > 1000, `removed ${removed}`);
  assert.ok(keptCandidates > 100, `kept ${keptCandidates}`);
});

test("merged sorted runs are in byte order", () => {
  const keys = ["b", "a\u{1F600}", "a\uFFFD", "c", "", "ab", "a", "b"];
  const runs = [sortBytes(keys.slice(0, 3)), sortBytes(keys.slice(3, 5)), [], sortBytes(keys.slice(5))];
  assert.deepEqual([...mergeSorted(runs)], sortBytes([...keys]));
});
