/** The containers service: Create, Get, List, Update, Delete. */
import { containerFields, decideCreateContainer, decideDeleteContainer, decideUpdateContainer, getContainer } from "../domain/container.js";
import { sortBytes } from "../domain/order.js";
import { parseStoreFilters } from "../filters/filters.js";
import { requireNamespace, type MethodTable } from "./context.js";
import { encodeContainer, readContainerInput, readObject, readString, readStringList, readUpdateMask } from "./wire.js";

export const containerMethods: MethodTable = {
  containers: {
    async create(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const input = readContainerInput(readObject(body, "container") ?? {});
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state, meta) => decideCreateContainer(state.namespaces.get(namespace), input, meta),
      });
      return { body: { container: encodeContainer(result, true) }, revision };
    },

    get(context, body, { projection }) {
      const namespace = requireNamespace(context);
      const id = readString(body, "id") ?? "";
      const container = getContainer(projection.state.namespaces.get(namespace), id, namespace);
      return { body: { container: encodeContainer(container, true) }, revision: projection.seq };
    },

    list(context, body, { projection }) {
      const namespace = requireNamespace(context);
      const filter = parseStoreFilters(readStringList(body, "filters"));
      const records = projection.state.namespaces.get(namespace)?.containers;
      const containers = [];
      for (const id of sortBytes([...(records?.keys() ?? [])])) {
        const container = records!.get(id)!;
        if (filter.match(containerFields(container))) containers.push(encodeContainer(container, true));
      }
      return { body: {}, list: { field: "containers", items: containers }, revision: projection.seq };
    },

    async update(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const input = readContainerInput(readObject(body, "container") ?? {});
      const paths = readUpdateMask(body);
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state, meta) => decideUpdateContainer(state.namespaces.get(namespace), input, paths, meta),
      });
      return { body: { container: encodeContainer(result, true) }, revision };
    },

    async delete(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const id = readString(body, "id") ?? "";
      const { revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state, meta) => decideDeleteContainer(state.namespaces.get(namespace), id, meta),
      });
      return { body: {}, revision };
    },
  },
};
