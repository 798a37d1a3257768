/**
 * The snapshots service, metadata only: Prepare, View, Commit, Stat, Update, List
 * and Remove on records grouped by snapshotter. Mount and diff calls stay with the
 * node agents.
 */
import { sortBytes } from "../domain/order.js";
import {
  decideCommitSnapshot,
  decideCreateSnapshot,
  decideRemoveSnapshot,
  decideUpdateSnapshot,
  getSnapshot,
  listSnapshots,
  snapshotFields,
  validateSnapshotter,
} from "../domain/snapshot.js";
import { parseFilters } from "../filters/filters.js";
import { requireNamespace, type Method, type MethodTable } from "./context.js";
import { encodeSnapshot, readObject, readString, readStringList, readStringMap, readUpdateMask, type Body } from "./wire.js";

function readSnapshotter(body: Body, snapshotters: ReadonlySet<string>): string {
  const snapshotter = readString(body, "snapshotter") ?? "";
  validateSnapshotter(snapshotter, snapshotters);
  return snapshotter;
}

function create(kind: "active" | "view"): Method {
  return async (context, body, { commands, snapshotters }) => {
    const namespace = requireNamespace(context);
    const snapshotter = readSnapshotter(body, snapshotters);
    const key = readString(body, "key") ?? "";
    const parent = readString(body, "parent") ?? "";
    const labels = readStringMap(body, "labels");
    const input = { snapshotter, key, parent, kind, ...(labels === undefined ? {} : { labels }) };
    const { result, revision } = await commands.execute({
      namespace,
      requestId: context.requestId,
      ...(context.lease === undefined ? {} : { lease: context.lease }),
      decide: (state, meta) => decideCreateSnapshot(state.namespaces.get(namespace), input, meta),
    });
    return { body: { info: encodeSnapshot(result) }, revision };
  };
}

export const snapshotMethods: MethodTable = {
  snapshots: {
    prepare: create("active"),
    view: create("view"),

    async commit(context, body, { commands, snapshotters }) {
      const namespace = requireNamespace(context);
      const snapshotter = readSnapshotter(body, snapshotters);
      const name = readString(body, "name") ?? "";
      const key = readString(body, "key") ?? "";
      const labels = readStringMap(body, "labels");
      const input = { snapshotter, name, key, ...(labels === undefined ? {} : { labels }) };
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        ...(context.lease === undefined ? {} : { lease: context.lease }),
        decide: (state, meta) => decideCommitSnapshot(state.namespaces.get(namespace), input, meta),
      });
      return { body: { info: encodeSnapshot(result) }, revision };
    },

    stat(context, body, { projection, snapshotters }) {
      const namespace = requireNamespace(context);
      const snapshotter = readSnapshotter(body, snapshotters);
      const snapshot = getSnapshot(projection.state.namespaces.get(namespace), snapshotter, readString(body, "key") ?? "");
      return { body: { info: encodeSnapshot(snapshot) }, revision: projection.seq };
    },

    async update(context, body, { commands, snapshotters }) {
      const namespace = requireNamespace(context);
      const snapshotter = readSnapshotter(body, snapshotters);
      const info = readObject(body, "info") ?? {};
      const name = readString(info, "name", "info.name") ?? "";
      const labels = readStringMap(info, "labels", "info.labels");
      const paths = readUpdateMask(body);
      const input = labels === undefined ? { name } : { name, labels };
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state, meta) => decideUpdateSnapshot(state.namespaces.get(namespace), snapshotter, input, paths, meta),
      });
      return { body: { info: encodeSnapshot(result) }, revision };
    },

    list(context, body, { projection, snapshotters }) {
      const namespace = requireNamespace(context);
      const snapshotter = readSnapshotter(body, snapshotters);
      const filter = parseFilters(readStringList(body, "filters"));
      const info = listSnapshots(projection.state.namespaces.get(namespace), snapshotter)
        .filter((snapshot) => filter.match(snapshotFields(snapshot)))
        .map(encodeSnapshot);
      return { body: {}, list: { field: "info", items: info }, revision: projection.seq };
    },

    async remove(context, body, { commands, snapshotters }) {
      const namespace = requireNamespace(context);
      const snapshotter = readSnapshotter(body, snapshotters);
      const key = readString(body, "key") ?? "";
      const { revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        ...(context.lease === undefined ? {} : { lease: context.lease }),
        decide: (state, meta) => decideRemoveSnapshot(state.namespaces.get(namespace), snapshotter, key, meta),
      });
      return { body: {}, revision };
    },

    snapshotters(_context, _body, { snapshotters }) {
      return { body: { snapshotters: sortBytes([...snapshotters]) } };
    },
  },
};
