/**
 * The gc service: `collect` runs a collection and returns its stats, `status`
 * describes the scheduler, `explain` tells why an object is kept. `collect` and
 * `status` are answered by the elected collector; `explain` by any instance from
 * its own view.
 */
import { InvalidArgument, NotFound, quote } from "../domain/errors.js";
import type { NamespaceState } from "../domain/state.js";
import { mark, type GcNode, type NodeKind } from "../gc/mark.js";
import { requireNamespace, type MethodTable } from "./context.js";
import { readString } from "./wire.js";

const KINDS = new Set<NodeKind>(["content", "snapshot", "lease", "image", "container"]);

function exists(namespace: NamespaceState | undefined, node: GcNode): boolean {
  if (!namespace) return false;
  switch (node.kind) {
    case "content":
      return namespace.content.has(node.key);
    case "snapshot":
      return namespace.snapshots.get(node.snapshotter ?? "")?.has(node.key) ?? false;
    case "lease":
      return namespace.leases.has(node.key);
    case "image":
      return namespace.images.has(node.key);
    case "container":
      return namespace.containers.has(node.key);
  }
}

export const gcMethods: MethodTable = {
  gc: {
    async collect(_context, _body, { gc }) {
      if (!gc) throw new InvalidArgument("garbage collection is disabled on this service");
      return { body: { gc: await gc.collect() } };
    },

    async status(_context, _body, { gc }) {
      if (!gc) throw new InvalidArgument("garbage collection is disabled on this service");
      return { body: { status: await gc.status() } };
    },

    explain(context, body, { projection, clock }) {
      const namespace = requireNamespace(context);
      const kind = readString(body, "kind") ?? "";
      if (!KINDS.has(kind as NodeKind)) {
        throw new InvalidArgument(`kind ${JSON.stringify(kind)}: expected one of content, snapshot, lease, image, container`);
      }
      const key = readString(body, "key") ?? "";
      const node: GcNode = { kind: kind as NodeKind, namespace, key };
      if (kind === "snapshot") node.snapshotter = readString(body, "snapshotter") ?? "";

      // Edges never leave a namespace, so marking this one namespace is exact.
      const state = projection.state.namespaces.get(namespace);
      if (!exists(state, node)) throw new NotFound(`${kind} ${quote(key)} in namespace ${quote(namespace)}`);
      const result = mark({ namespaces: state ? new Map([[namespace, state]]) : new Map() }, clock.nowNanos());
      const chain = result.explain(node);
      return {
        body: { node, reachable: chain !== undefined, chain: chain ?? [] },
        revision: projection.seq,
      };
    },
  },
};
