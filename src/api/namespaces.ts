/**
 * The namespaces service. Its requests name their target namespace, which is also
 * the namespace of the request subject.
 */
import { InvalidArgument, quote } from "../domain/errors.js";
import {
  decideCreateNamespace,
  decideDeleteNamespace,
  decideUpdateNamespace,
  getNamespace,
  listNamespaces,
} from "../domain/namespace.js";
import type { MethodTable, RequestContext } from "./context.js";
import { readObject, readString, readStringMap, readUpdateMask, type Body } from "./wire.js";

function plain(record: { name: string; labels: Record<string, string> }): Body {
  return { name: record.name, labels: { ...record.labels } };
}

/**
 * The target of a namespace request must be the namespace the request was sent
 * for, so that a NATS permission on one namespace's subjects covers its management.
 */
function checkTarget(context: RequestContext, name: string): void {
  if (context.namespace !== "" && context.namespace !== name) {
    throw new InvalidArgument(`namespace ${quote(name)} does not match the request's namespace ${quote(context.namespace)}`);
  }
}

export const namespaceMethods: MethodTable = {
  namespaces: {
    async create(context, body, { commands }) {
      const request = readObject(body, "namespace") ?? {};
      const name = readString(request, "name", "namespace.name") ?? "";
      const labels = readStringMap(request, "labels", "namespace.labels");
      checkTarget(context, name);
      const { result, revision } = await commands.execute({
        namespace: name,
        requestId: context.requestId,
        decide: (state) => decideCreateNamespace(state, name, labels),
      });
      return { body: { namespace: plain(result) }, revision };
    },

    get(context, body, { projection }) {
      const name = readString(body, "name") ?? "";
      checkTarget(context, name);
      return { body: { namespace: plain(getNamespace(projection.state, name)) }, revision: projection.seq };
    },

    list(_context, _body, { projection }) {
      return { body: {}, list: { field: "namespaces", items: listNamespaces(projection.state).map(plain) }, revision: projection.seq };
    },

    async update(context, body, { commands }) {
      const request = readObject(body, "namespace") ?? {};
      const name = readString(request, "name", "namespace.name") ?? "";
      const labels = readStringMap(request, "labels", "namespace.labels");
      const paths = readUpdateMask(body);
      checkTarget(context, name);
      const { revision } = await commands.execute({
        namespace: name,
        requestId: context.requestId,
        decide: (state) => decideUpdateNamespace(state, name, labels, paths),
      });
      return { body: {}, revision };
    },

    async delete(context, body, { commands }) {
      const name = readString(body, "name") ?? "";
      checkTarget(context, name);
      const { revision } = await commands.execute({
        namespace: name,
        requestId: context.requestId,
        decide: (state) => decideDeleteNamespace(state, name),
      });
      return { body: {}, revision };
    },
  },
};
