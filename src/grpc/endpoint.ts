/**
 * Start containerd's gRPC API for one instance: the metadata services on the
 * instance's API methods, events from its notifications, version and introspection.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { MethodTable, ServiceDeps } from "../api/context.js";
import { limitedCommands, recordLimit } from "../api/limits.js";
import { DEFAULT_MAX_PAYLOAD } from "../api/service.js";
import type { Layout } from "../nats/subjects.js";
import { subscribeMethod } from "./events.js";
import { metadataServices, namespaceOf } from "./handlers.js";
import { infoServices, logUuid, sourceRevision } from "./info.js";
import { loadContainerdProtos } from "./protos.js";
import { GrpcServer, type GrpcLog, type GrpcServices } from "./server.js";

export interface GrpcEndpointOptions {
  /** Unix socket path, or `unix://PATH`. */
  address: string;
  methods: MethodTable;
  deps: ServiceDeps;
  nc: NatsConnection;
  jsm: JetStreamManager;
  layout: Layout;
  version: string;
  log: GrpcLog;
}

export async function startGrpcEndpoint(options: GrpcEndpointOptions): Promise<GrpcServer> {
  const protos = loadContainerdProtos();
  const stream = await options.jsm.streams.info(options.layout.logStream);
  const info = {
    version: options.version,
    revision: sourceRevision(),
    uuid: logUuid(options.layout.logStream, stream.created),
    metadataExports: { prefix: options.layout.prefix, log_stream: options.layout.logStream },
  };

  // Writes over gRPC append to the same log as over NATS, so the same record limit applies.
  const maxPayload = options.nc.info?.max_payload ?? DEFAULT_MAX_PAYLOAD;
  const deps: ServiceDeps = { ...options.deps, commands: limitedCommands(options.deps.commands, recordLimit(maxPayload)) };
  const services: GrpcServices = metadataServices(options.methods, deps);
  services.events = { ...services.events, Subscribe: subscribeMethod(options.nc, options.layout, protos.root, options.log) };
  Object.assign(services, infoServices(() => services, info));

  return GrpcServer.start({ address: options.address, services, namespaceOf, deps: options.deps, log: options.log, protos });
}
