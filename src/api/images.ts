/** The images service: Create, Get, List, Update, Delete (with `sync`). */
import { decideCreateImage, decideDeleteImage, decideUpdateImage, getImage, imageFields } from "../domain/image.js";
import { sortBytes } from "../domain/order.js";
import { parseStoreFilters } from "../filters/filters.js";
import { requireNamespace, type MethodTable } from "./context.js";
import { encodeImage, readBoolean, readImageInput, readObject, readString, readStringList, readTimestamp, readUpdateMask } from "./wire.js";

export const imageMethods: MethodTable = {
  images: {
    async create(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const input = readImageInput(readObject(body, "image") ?? {});
      const sourceDateEpoch = readTimestamp(body, "sourceDateEpoch");
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state, meta) => decideCreateImage(state.namespaces.get(namespace), input, meta, sourceDateEpoch),
      });
      return { body: { image: encodeImage(result) }, revision };
    },

    get(context, body, { projection }) {
      const namespace = requireNamespace(context);
      const image = getImage(projection.state.namespaces.get(namespace), readString(body, "name") ?? "");
      return { body: { image: encodeImage(image) }, revision: projection.seq };
    },

    list(context, body, { projection }) {
      const namespace = requireNamespace(context);
      const filter = parseStoreFilters(readStringList(body, "filters"));
      const records = projection.state.namespaces.get(namespace)?.images;
      const images = [];
      for (const name of sortBytes([...(records?.keys() ?? [])])) {
        const image = records!.get(name)!;
        if (filter.match(imageFields(image))) images.push(encodeImage(image));
      }
      return { body: {}, list: { field: "images", items: images }, revision: projection.seq };
    },

    async update(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const input = readImageInput(readObject(body, "image") ?? {});
      const paths = readUpdateMask(body);
      const sourceDateEpoch = readTimestamp(body, "sourceDateEpoch");
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state, meta) => decideUpdateImage(state.namespaces.get(namespace), input, paths, meta, sourceDateEpoch),
      });
      return { body: { image: encodeImage(result) }, revision };
    },

    async delete(context, body, deps) {
      const namespace = requireNamespace(context);
      const name = readString(body, "name") ?? "";
      const sync = readBoolean(body, "sync") ?? false;
      const { revision } = await deps.commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state) => decideDeleteImage(state.namespaces.get(namespace), name),
      });
      if (sync && deps.gc) return { body: { gc: await deps.gc.collect() }, revision };
      return { body: {}, revision };
    },
  },
};
