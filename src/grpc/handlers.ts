/**
 * The gRPC methods ctrmeta serves, each on top of an API method (src/api), and the
 * reasons for the ones it does not serve.
 */
import type { MethodResult, MethodTable, RequestContext, ServiceDeps } from "../api/context.js";
import { isObject, type Body } from "../api/wire.js";
import { NotImplemented } from "../domain/errors.js";
import type { GrpcMethod, GrpcServices, NamespaceOf, Send } from "./server.js";

/** Replies per message of a list stream, as containerd's content and snapshot services send them. */
const STREAM_BATCH = 100;

const BYTES = "ctrmeta keeps metadata only: blob bytes stay with the node agents that wrote them";
const INGESTS = "ctrmeta records committed content only and keeps no ingests";
const MOUNTS = "ctrmeta keeps snapshot records only: preparing, committing and mounting snapshots stays with the node agents, which record them through the NATS API";
const PUBLISH = "ctrmeta's events are derived from its log of metadata changes, so it does not take events from clients";

function unimplemented(reason: string): GrpcMethod {
  return { kind: "unimplemented", reason };
}

/** Return the reply body of an API result, where a list becomes `{field: items}`. */
function replyOf(result: MethodResult): Body {
  return result.list ? { [result.list.field]: result.list.items } : result.body;
}

/** Return the namespace a namespaces-service request names (`namespace.name` or `name`), or "" for List. */
function namespaceTarget(method: string, request: Body): string {
  if (method === "List") return "";
  const record = request.namespace;
  if ((method === "Create" || method === "Update") && isObject(record)) return typeof record.name === "string" ? record.name : "";
  return typeof request.name === "string" ? request.name : "";
}

/** Run namespaces-service calls in their target's namespace, every other call in the metadata's. */
export const namespaceOf: NamespaceOf = (service, method, request, metadataNamespace) =>
  service === "namespaces" ? namespaceTarget(method, request) : metadataNamespace;

/** Build the served methods from the API's method table. */
export function metadataServices(methods: MethodTable, deps: ServiceDeps): GrpcServices {
  const call = async (service: string, method: string, context: RequestContext, request: Body): Promise<MethodResult> => {
    const run = methods[service]?.[method];
    if (!run) throw new NotImplemented(`${service}.${method}`);
    return run(context, request, deps);
  };
  const unary = (service: string, method: string): GrpcMethod => ({
    kind: "unary",
    run: async (context, request) => replyOf(await call(service, method, context, request)),
  });
  /** A list sent as a stream of `{field: [at most STREAM_BATCH items]}`. */
  const batches = (service: string, method: string): GrpcMethod => ({
    kind: "stream",
    async run(context, request, send) {
      const { list } = await call(service, method, context, request);
      if (!list) return;
      for (let start = 0; start < list.items.length; start += STREAM_BATCH) {
        send({ [list.field]: list.items.slice(start, start + STREAM_BATCH) });
      }
    },
  });

  return {
    namespaces: {
      Create: unary("namespaces", "create"),
      Get: unary("namespaces", "get"),
      List: unary("namespaces", "list"),
      Update: unary("namespaces", "update"),
      Delete: unary("namespaces", "delete"),
    },
    containers: {
      Create: unary("containers", "create"),
      Get: unary("containers", "get"),
      List: unary("containers", "list"),
      ListStream: {
        kind: "stream",
        async run(context, request, send: Send) {
          const { list } = await call("containers", "list", context, request);
          for (const container of list?.items ?? []) send({ container });
        },
      },
      Update: unary("containers", "update"),
      Delete: unary("containers", "delete"),
    },
    images: {
      Create: unary("images", "create"),
      Get: unary("images", "get"),
      List: unary("images", "list"),
      Update: unary("images", "update"),
      Delete: unary("images", "delete"),
    },
    leases: {
      Create: unary("leases", "create"),
      Delete: unary("leases", "delete"),
      List: unary("leases", "list"),
      AddResource: unary("leases", "addResource"),
      DeleteResource: unary("leases", "deleteResource"),
      ListResources: unary("leases", "listResources"),
    },
    content: {
      Info: unary("content", "info"),
      Update: unary("content", "update"),
      List: batches("content", "list"),
      Delete: unary("content", "delete"),
      Read: {
        kind: "stream",
        async run(context, request) {
          // containerd checks the digest and the record before reading, so a
          // missing blob is NotFound as there; a recorded one has no bytes here.
          const digest = typeof request.digest === "string" ? request.digest : "";
          await call("content", "info", context, { digest });
          throw new NotImplemented(`content ${digest}: ${BYTES}`);
        },
      },
      Status: unimplemented(INGESTS),
      ListStatuses: unimplemented(INGESTS),
      Write: unimplemented(BYTES),
      Abort: unimplemented(INGESTS),
    },
    snapshots: {
      Stat: unary("snapshots", "stat"),
      Update: unary("snapshots", "update"),
      List: batches("snapshots", "list"),
      Remove: unary("snapshots", "remove"),
      Usage: {
        kind: "unary",
        async run(context, request) {
          // NOTE: ctrmeta does not know disk usage, so it returns zeros for a snapshot that exists.
          await call("snapshots", "stat", context, request);
          return { size: 0, inodes: 0 };
        },
      },
      Prepare: unimplemented(MOUNTS),
      View: unimplemented(MOUNTS),
      Commit: unimplemented(MOUNTS),
      Mounts: unimplemented(MOUNTS),
      Cleanup: unimplemented("ctrmeta keeps no snapshot data to clean up"),
    },
    events: {
      Publish: unimplemented(PUBLISH),
      Forward: unimplemented(PUBLISH),
    },
  };
}
