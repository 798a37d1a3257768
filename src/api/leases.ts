/** The leases service: Create, Delete (with `sync`), List and resource management. */
import { randomBytes } from "node:crypto";
import {
  decideAddLeaseResource,
  decideCreateLease,
  decideDeleteLease,
  decideDeleteLeaseResource,
  leaseFields,
  listLeaseResources,
} from "../domain/lease.js";
import { sortBytes } from "../domain/order.js";
import { parseStoreFilters } from "../filters/filters.js";
import { requireNamespace, type MethodTable } from "./context.js";
import { encodeLease, readBoolean, readLeaseResource, readString, readStringList, readStringMap } from "./wire.js";

/** containerd's generated lease id: `<nanoseconds>-<base64url of 3 random bytes>`. */
function generateLeaseId(): string {
  return `${process.hrtime.bigint()}-${randomBytes(3).toString("base64url")}`;
}

export const leaseMethods: MethodTable = {
  leases: {
    async create(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const id = readString(body, "id") ?? "";
      const labels = readStringMap(body, "labels");
      const generated = id === "" ? generateLeaseId() : "";
      const input = labels === undefined ? { id } : { id, labels };
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state, meta) => decideCreateLease(state.namespaces.get(namespace), input, meta, generated),
      });
      return { body: { lease: encodeLease(result) }, revision };
    },

    async delete(context, body, deps) {
      const namespace = requireNamespace(context);
      const id = readString(body, "id") ?? "";
      const sync = readBoolean(body, "sync") ?? false;
      const { revision } = await deps.commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state) => decideDeleteLease(state.namespaces.get(namespace), id),
      });
      if (sync && deps.gc) return { body: { gc: await deps.gc.collect() }, revision };
      return { body: {}, revision };
    },

    list(context, body, { projection }) {
      const namespace = requireNamespace(context);
      const filter = parseStoreFilters(readStringList(body, "filters"));
      const records = projection.state.namespaces.get(namespace)?.leases;
      const leases = [];
      for (const id of sortBytes([...(records?.keys() ?? [])])) {
        const lease = records!.get(id)!;
        if (filter.match(leaseFields(lease))) leases.push(encodeLease(lease));
      }
      return { body: {}, list: { field: "leases", items: leases }, revision: projection.seq };
    },

    async addResource(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const id = readString(body, "id") ?? "";
      const resource = readLeaseResource(body);
      const { revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state) => decideAddLeaseResource(state.namespaces.get(namespace), id, resource),
      });
      return { body: {}, revision };
    },

    async deleteResource(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const id = readString(body, "id") ?? "";
      const resource = readLeaseResource(body);
      const { revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state) => decideDeleteLeaseResource(state.namespaces.get(namespace), id, resource),
      });
      return { body: {}, revision };
    },

    listResources(context, body, { projection }) {
      const namespace = requireNamespace(context);
      const resources = listLeaseResources(projection.state.namespaces.get(namespace), readString(body, "id") ?? "");
      // A list, so that a lease holding more resources than one reply can carry is sent in chunks.
      return { body: {}, list: { field: "resources", items: resources.map((resource) => ({ ...resource })) }, revision: projection.seq };
    },
  },
};
