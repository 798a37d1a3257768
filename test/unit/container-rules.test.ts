import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { anyFromJson } from "../../src/domain/any.js";
import {
  containerFields,
  decideCreateContainer,
  decideDeleteContainer,
  decideUpdateContainer,
  evolveContainer,
  type Container,
  type ContainerInput,
} from "../../src/domain/container.js";
import type { CommandMeta } from "../../src/domain/decision.js";
import { emptyState, ensureNamespace, type MetadataState } from "../../src/domain/state.js";

const SPEC = anyFromJson("types.containerd.io/opencontainers/runtime-spec/1/Spec", { ociVersion: "1.1.0" });
const T0 = "2026-01-01T00:00:00.000000000Z";
const T1 = "2026-01-01T00:00:01.000000000Z";

function meta(now = T0): CommandMeta {
  return { namespace: "default", now, requestId: "r" };
}

function input(extra: ContainerInput = {}): ContainerInput {
  return { id: "web", runtime: { name: "io.containerd.runc.v2" }, spec: SPEC, ...extra };
}

/** State holding the containers created from the inputs, in namespace default. */
function stateWith(...inputs: ContainerInput[]): MetadataState {
  const state = emptyState();
  for (const item of inputs) {
    const decision = decideCreateContainer(state.namespaces.get("default"), item, meta());
    evolveContainer(state, "default", decision.event as Parameters<typeof evolveContainer>[2]);
  }
  return state;
}

function stored(state: MetadataState, id = "web"): Container {
  return state.namespaces.get("default")!.containers.get(id)!;
}

function failure(action: () => unknown): { kind?: string; message: string } | undefined {
  try {
    action();
    return undefined;
  } catch (error) {
    return error as { kind?: string; message: string };
  }
}

describe("container create validation", () => {
  const cases: Array<[string, ContainerInput, string]> = [
    ["empty id", input({ id: "" }), "create container failed validation: container.ID: identifier must not be empty: invalid argument"],
    ["empty extension key", input({ extensions: { "": SPEC } }), "create container failed validation: container.Extension keys must not be zero-length: invalid argument"],
    ["missing runtime", input({ runtime: {} }), "create container failed validation: container.Runtime.Name must be set: invalid argument"],
    ["missing spec", { id: "web", runtime: { name: "r" } }, "create container failed validation: container.Spec must be set: invalid argument"],
    ["key without snapshotter", input({ snapshotKey: "k" }), "create container failed validation: container.Snapshotter must be set if container.SnapshotKey is set: invalid argument"],
  ];
  for (const [name, value, message] of cases) {
    it(`rejects ${name}`, () => assert.equal(failure(() => decideCreateContainer(undefined, value, meta()))?.message, message));
  }

  it("checks id before extensions", () => {
    const error = failure(() => decideCreateContainer(undefined, input({ id: "-x", extensions: { "": SPEC } }), meta()));
    assert.match(error!.message, /container\.ID/);
  });

  it("checks labels before runtime", () => {
    const error = failure(() => decideCreateContainer(undefined, { id: "a", labels: { k: "v".repeat(5000) } }, meta()));
    assert.match(error!.message, /containers\.Labels/);
  });

  it("invalid request for an existing id is InvalidArgument", () => {
    const state = stateWith(input());
    const error = failure(() => decideCreateContainer(state.namespaces.get("default"), input({ runtime: {} }), meta()));
    assert.equal(error?.kind, "InvalidArgument");
  });

  it("existing id is AlreadyExists", () => {
    const state = stateWith(input());
    assert.equal(failure(() => decideCreateContainer(state.namespaces.get("default"), input(), meta()))?.message, 'container "web": already exists');
  });

  it("snapshotter without key is valid", () => {
    assert.equal(failure(() => decideCreateContainer(undefined, input({ snapshotter: "overlayfs" }), meta())), undefined);
  });

  it("stamps both timestamps and drops empty labels", () => {
    const { result } = decideCreateContainer(undefined, input({ labels: { a: "1", b: "" } }), meta());
    assert.equal(result.createdAt, T0);
    assert.equal(result.updatedAt, T0);
    assert.deepEqual({ ...result.labels }, { a: "1" });
  });
});

describe("container update", () => {
  const base = input({
    labels: { a: "1", b: "2" },
    image: "img",
    snapshotter: "overlayfs",
    snapshotKey: "k1",
    runtime: { name: "io.containerd.runc.v2", options: { typeUrl: "opts", value: new Uint8Array([1, 2]) } },
    extensions: { x: SPEC },
  });

  function update(paths: string[], change: ContainerInput, state = stateWith(base)) {
    return decideUpdateContainer(state.namespaces.get("default"), { id: "web", ...change }, paths, meta(T1));
  }

  it("missing id is InvalidArgument", () => {
    assert.equal(failure(() => decideUpdateContainer(undefined, {}, [], meta()))?.message, "Container.ID required");
  });

  it("namespace without containers names it", () => {
    const state = emptyState();
    ensureNamespace(state, "default");
    assert.equal(
      failure(() => decideUpdateContainer(state.namespaces.get("default"), { id: "x" }, ["image"], meta()))?.message,
      'cannot update container "x" in namespace "default": not found',
    );
  });

  it("unknown id in a used namespace", () => {
    assert.equal(failure(() => update(["image"], { id: "nope" }))?.message, 'container "nope": not found');
  });

  it("label path sets and removes", () => {
    const { result } = update(["labels.c", "labels.a"], { labels: { c: "3" } });
    assert.deepEqual({ ...result.labels }, { b: "2", c: "3" });
  });

  it("label key may contain dots", () => {
    const { result } = update(["labels.io.kubernetes.pod"], { labels: { "io.kubernetes.pod": "p" } });
    assert.equal(result.labels["io.kubernetes.pod"], "p");
  });

  it("labels path replaces the map", () => {
    assert.deepEqual({ ...update(["labels"], { labels: { z: "9" } }).result.labels }, { z: "9" });
    assert.deepEqual({ ...update(["labels"], {}).result.labels }, {});
  });

  const rejected = ["runtime", "runtime.name", "snapshotter", "snapshot_key", "id", "sandbox", "created_at", "Labels", "spec.x"];
  for (const path of rejected) {
    it(`rejects path ${path}`, () => {
      assert.equal(failure(() => update([path], {}))?.message, `cannot update "${path}" field on "web": invalid argument`);
    });
  }

  it("paths ignore immutable field differences", () => {
    const { result } = update(["image"], { image: "new", snapshotter: "other", runtime: { name: "other" } });
    assert.equal(result.snapshotter, "overlayfs");
    assert.equal(result.runtime.name, "io.containerd.runc.v2");
  });

  it("full replace rejects another snapshotter", () => {
    assert.equal(
      failure(() => update([], { snapshotter: "native", runtime: { name: "io.containerd.runc.v2" }, spec: SPEC }))?.message,
      "container.Snapshotter field is immutable: invalid argument",
    );
  });

  it("full replace rejects another runtime name", () => {
    assert.equal(
      failure(() => update([], { snapshotter: "overlayfs", runtime: { name: "x" }, spec: SPEC }))?.message,
      "container.Runtime.Name field is immutable: invalid argument",
    );
  });

  it("full replace clears and keeps options", () => {
    const { result, event } = update([], { snapshotter: "overlayfs", runtime: { name: "io.containerd.runc.v2" }, spec: SPEC });
    assert.equal(result.image, "");
    assert.equal(result.snapshotKey, "");
    assert.deepEqual({ ...result.labels }, {});
    assert.deepEqual([...result.runtime.options!.value], [1, 2]);
    assert.equal(result.createdAt, T0);
    assert.equal(result.updatedAt, T1);
    assert.ok(event);
  });

  it("full replace without spec fails validation", () => {
    assert.equal(
      failure(() => update([], { snapshotter: "overlayfs", runtime: { name: "io.containerd.runc.v2" } }))?.message,
      "update failed validation: container.Spec must be set: invalid argument",
    );
  });

  it("snapshotkey needs a snapshotter", () => {
    const state = stateWith(input());
    assert.equal(
      failure(() => update(["snapshotkey"], { snapshotKey: "k" }, state))?.message,
      "update failed validation: container.Snapshotter must be set if container.SnapshotKey is set: invalid argument",
    );
  });

  it("extensions are merge-only", () => {
    const state = stateWith(base);
    const other = anyFromJson("t/other", { n: 1 });
    const { result, event } = update(["extensions"], { extensions: { y: other } }, state);
    assert.deepEqual(Object.keys(result.extensions), ["y"]);
    evolveContainer(state, "default", event as Parameters<typeof evolveContainer>[2]);
    assert.deepEqual(Object.keys(stored(state).extensions).sort(), ["x", "y"]);
  });

  it("extension key absent from input is a no-op", () => {
    const { result } = update(["extensions.missing"], {});
    assert.deepEqual(Object.keys(result.extensions), ["x"]);
  });

  it("empty extension path fails validation", () => {
    assert.equal(failure(() => update(["extensions."], {}))?.kind, "InvalidArgument");
  });

  it("update with no change bumps updatedAt", () => {
    const { result } = update(["labels.a"], { labels: { a: "1" } });
    assert.equal(result.updatedAt, T1);
  });

  it("paths apply in order", () => {
    const { result } = update(["labels.a", "labels"], { labels: { a: "x" } });
    assert.deepEqual({ ...result.labels }, { a: "x" });
  });
});

describe("container delete", () => {
  it("namespace without containers names it", () => {
    assert.equal(
      failure(() => decideDeleteContainer(undefined, "x", meta()))?.message,
      'cannot delete container "x" in namespace "default": not found',
    );
  });

  it("unknown id after the first container", () => {
    assert.equal(failure(() => decideDeleteContainer(stateWith(input()).namespaces.get("default"), "x", meta()))?.message, "container x: not found");
  });

  it("deleted id stays in a used namespace", () => {
    const state = stateWith(input());
    evolveContainer(state, "default", { type: "container.deleted", id: "web" });
    assert.equal(failure(() => decideDeleteContainer(state.namespaces.get("default"), "web", meta()))?.message, "container web: not found");
  });
});

describe("container events", () => {
  it("create notifies id image runtime", () => {
    const state = emptyState();
    const { event } = decideCreateContainer(undefined, input({ image: "img" }), meta());
    const verdict = evolveContainer(state, "default", event as Parameters<typeof evolveContainer>[2]);
    assert.deepEqual(verdict.notifications?.[0]?.topic, "/containers/create");
    assert.deepEqual(Object.keys(verdict.notifications![0]!.payload), ["id", "image", "runtime"]);
  });

  it("duplicate create is rejected when applied", () => {
    const state = stateWith(input());
    const verdict = evolveContainer(state, "default", { type: "container.created", container: stored(state) });
    assert.equal(verdict.rejected?.kind, "AlreadyExists");
  });
});

describe("container filter fields", () => {
  it("exposes id image runtime.name labels", () => {
    const fields = containerFields(decideCreateContainer(undefined, input({ image: "img", labels: { "a.b": "c" } }), meta()).result);
    assert.deepEqual(fields(["id"]), { value: "web", present: true });
    assert.deepEqual(fields(["runtime", "name"]), { value: "io.containerd.runc.v2", present: true });
    assert.deepEqual(fields(["labels", "a", "b"]), { value: "c", present: true });
    assert.deepEqual(fields(["snapshotter"]), { value: "", present: false });
    assert.deepEqual(fields(["runtime"]), { value: "", present: false });
  });
});
