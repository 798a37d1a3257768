/**
 * The content service, metadata only: Commit records a blob that a node agent has
 * written (containerd's Write with action COMMIT), then Info, List, Update, Delete.
 */
import { contentFields, decideCommitContent, decideDeleteContent, decideUpdateContent, getContent } from "../domain/content.js";
import { InvalidArgument } from "../domain/errors.js";
import { sortBytes } from "../domain/order.js";
import { parseFilters } from "../filters/filters.js";
import { requireNamespace, type MethodTable } from "./context.js";
import { encodeContentInfo, readInteger, readObject, readString, readStringList, readStringMap, readUpdateMask } from "./wire.js";

export const contentMethods: MethodTable = {
  content: {
    async commit(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const digest = readString(body, "digest") ?? readString(body, "expected") ?? "";
      const size = readInteger(body, "size");
      if (size === undefined) throw new InvalidArgument("size: missing; give the committed blob's size in bytes");
      const labels = readStringMap(body, "labels");
      const input = labels === undefined ? { digest, size } : { digest, size, labels };
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        ...(context.lease === undefined ? {} : { lease: context.lease }),
        decide: (state, meta) => decideCommitContent(state.namespaces.get(namespace), input, meta),
      });
      return { body: { info: encodeContentInfo(result) }, revision };
    },

    info(context, body, { projection }) {
      const namespace = requireNamespace(context);
      const info = getContent(projection.state.namespaces.get(namespace), readString(body, "digest") ?? "");
      return { body: { info: encodeContentInfo(info) }, revision: projection.seq };
    },

    list(context, body, { projection }) {
      const namespace = requireNamespace(context);
      const filter = parseFilters(readStringList(body, "filters"));
      const records = projection.state.namespaces.get(namespace)?.content;
      const info = [];
      for (const digest of sortBytes([...(records?.keys() ?? [])])) {
        const record = records!.get(digest)!;
        if (filter.match(contentFields(record))) info.push(encodeContentInfo(record));
      }
      return { body: {}, list: { field: "info", items: info }, revision: projection.seq };
    },

    async update(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const request = readObject(body, "info") ?? {};
      const digest = readString(request, "digest", "info.digest") ?? "";
      const labels = readStringMap(request, "labels", "info.labels");
      const paths = readUpdateMask(body);
      const input = labels === undefined ? { digest } : { digest, labels };
      const { result, revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        decide: (state, meta) => decideUpdateContent(state.namespaces.get(namespace), input, paths, meta),
      });
      return { body: { info: encodeContentInfo(result) }, revision };
    },

    async delete(context, body, { commands }) {
      const namespace = requireNamespace(context);
      const digest = readString(body, "digest") ?? "";
      const { revision } = await commands.execute({
        namespace,
        requestId: context.requestId,
        ...(context.lease === undefined ? {} : { lease: context.lease }),
        decide: (state, meta) => decideDeleteContent(state.namespaces.get(namespace), digest, meta),
      });
      return { body: {}, revision };
    },
  },
};
