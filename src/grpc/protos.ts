/**
 * containerd's API definitions, loaded at run time from the `.proto` files that
 * Debian's package golang-github-containerd-containerd-dev installs under
 * /usr/share/gocode/src (containerd 1.6.20 in Debian 12). `CTRMETA_PROTO_ROOT`
 * names another Go source tree with the same layout.
 *
 * One protobufjs Root serves two purposes: reflection for the conversions between
 * messages and API bodies, and, through proto-loader, the gRPC service definitions.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fromJSON, type PackageDefinition } from "@grpc/proto-loader";
import protobuf from "protobufjs";

export const DEFAULT_PROTO_ROOT = "/usr/share/gocode/src";

const CONTAINERD_API = "github.com/containerd/containerd/api";

/** The services' files, relative to the Go source tree. */
const SERVICE_FILES = [
  "services/containers/v1/containers.proto",
  "services/content/v1/content.proto",
  "services/events/v1/events.proto",
  "services/images/v1/images.proto",
  "services/introspection/v1/introspection.proto",
  "services/leases/v1/leases.proto",
  "services/namespaces/v1/namespace.proto",
  "services/snapshots/v1/snapshots.proto",
  "services/version/v1/version.proto",
];

/** Event payload messages: `containerd.events.*`, and the image events that live in `containerd.services.images.v1`. */
const EVENT_FILES = ["events/container.proto", "events/content.proto", "events/image.proto", "events/namespace.proto", "events/snapshot.proto"];

/**
 * Options of the message objects that gRPC handlers receive and return: int64 as
 * decimal strings, enums by name, unset fields absent, bytes as Buffer.
 */
export const OBJECT_OPTIONS = { longs: String, enums: String, defaults: false, oneofs: false } as const;

/** The containerd API: reflection and gRPC definitions. */
export interface ContainerdProtos {
  root: protobuf.Root;
  definitions: PackageDefinition;
}

/**
 * Where imports of the containerd protos live: the Go source tree itself (containerd's
 * own imports), gogo's tree (`gogoproto/gogo.proto`, `google/protobuf/*`) and gogo's
 * googleapis (`google/rpc/status.proto`).
 */
function includeDirs(base: string): string[] {
  return [base, join(base, "github.com/gogo/protobuf"), join(base, "github.com/gogo/protobuf/protobuf"), join(base, "github.com/gogo/googleapis")];
}

function protoRoot(): string {
  return process.env.CTRMETA_PROTO_ROOT || DEFAULT_PROTO_ROOT;
}

/** Return why containerd's API definitions cannot be loaded from `base`, or undefined when every file is there. */
export function missingContainerdProtos(base = protoRoot()): string | undefined {
  for (const file of [...SERVICE_FILES, ...EVENT_FILES].map((name) => join(base, CONTAINERD_API, name))) {
    if (!existsSync(file)) {
      return (
        `containerd API definition ${file} is missing: install Debian's golang-github-containerd-containerd-dev ` +
        "(npm run setup -- --grpc) or set CTRMETA_PROTO_ROOT to a Go source tree that has github.com/containerd/containerd/api"
      );
    }
  }
  return undefined;
}

/** Load containerd's service and event definitions; throws naming the missing file and the package that provides it. */
export function loadContainerdProtos(base = protoRoot()): ContainerdProtos {
  const dirs = includeDirs(base);
  const files = [...SERVICE_FILES, ...EVENT_FILES].map((file) => join(base, CONTAINERD_API, file));
  const missing = missingContainerdProtos(base);
  if (missing) throw new Error(missing);
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    if (target.startsWith("/")) return target;
    for (const dir of dirs) {
      const path = join(dir, target);
      if (existsSync(path)) return path;
    }
    // protobufjs has the well-known google/protobuf types built in under their bare names.
    return target;
  };
  root.loadSync(files, { keepCase: false });
  root.resolveAll();
  const definitions = fromJSON(root.toJSON(), { keepCase: false, ...OBJECT_OPTIONS });
  return { root, definitions };
}

/** The full name of a service, e.g. `containerd.services.containers.v1.Containers`. */
export const SERVICE_NAMES = {
  containers: "containerd.services.containers.v1.Containers",
  content: "containerd.services.content.v1.Content",
  events: "containerd.services.events.v1.Events",
  images: "containerd.services.images.v1.Images",
  introspection: "containerd.services.introspection.v1.Introspection",
  leases: "containerd.services.leases.v1.Leases",
  namespaces: "containerd.services.namespaces.v1.Namespaces",
  snapshots: "containerd.services.snapshots.v1.Snapshots",
  version: "containerd.services.version.v1.Version",
} as const;

export type ServiceKey = keyof typeof SERVICE_NAMES;
