/**
 * The version and introspection services: what ctrmeta is, which gRPC services it
 * serves with which methods, and a server UUID.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseFilters } from "../filters/filters.js";
import { readStringList, type Body } from "../api/wire.js";
import type { GrpcMethod, GrpcServices } from "./server.js";
import { SERVICE_NAMES, type ServiceKey } from "./protos.js";

/** The plugin type containerd gives its gRPC services. */
const GRPC_PLUGIN = "io.containerd.grpc.v1";
/** The plugin type of containerd's metadata store, which ctrmeta replaces. */
const METADATA_PLUGIN = "io.containerd.metadata.v1";

function readText(url: URL): string | undefined {
  try {
    return readFileSync(url, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * Read the git commit of the checkout the code runs from (three folders above this
 * compiled file, the repository root). Returns "unknown" for a copy without `.git`.
 */
export function sourceRevision(): string {
  const gitDir = new URL("../../../.git/", import.meta.url);
  const head = readText(new URL("HEAD", gitDir));
  if (head === undefined) return "unknown";
  if (!head.startsWith("ref: ")) return head;
  const ref = head.slice("ref: ".length);
  const loose = readText(new URL(ref, gitDir));
  if (loose !== undefined) return loose;
  const packed = readText(new URL("packed-refs", gitDir)) ?? "";
  const line = packed.split("\n").find((entry) => entry.endsWith(` ${ref}`));
  return line?.split(" ")[0] ?? "unknown";
}

/**
 * Derive a UUID that names the log from the log stream's name and creation time.
 * Every instance serving one log reports the same one, and it changes only when
 * the stream is created again.
 */
export function logUuid(streamName: string, created: string): string {
  const hex = createHash("sha256").update(`${streamName}\n${created}`).digest("hex").slice(0, 32).split("");
  // Version 8 (custom) and the RFC 4122 variant bits.
  hex[12] = "8";
  hex[16] = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const text = hex.join("");
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20, 32)}`;
}

export interface ServerInfo {
  version: string;
  revision: string;
  uuid: string;
  /** Exports of the metadata plugin, e.g. the NATS prefix and log stream. */
  metadataExports: Record<string, string>;
}

/** List one plugin per served gRPC service with the methods it serves, and one for ctrmeta's store. */
export function pluginList(services: GrpcServices, info: ServerInfo): Body[] {
  const plugins: Body[] = [{ type: METADATA_PLUGIN, id: "ctrmeta", exports: info.metadataExports }];
  for (const service of Object.keys(SERVICE_NAMES).sort() as ServiceKey[]) {
    const methods = Object.entries(services[service] ?? {})
      .filter(([, method]) => method.kind !== "unimplemented")
      .map(([name]) => name)
      .sort();
    if (methods.length === 0) continue;
    plugins.push({ type: GRPC_PLUGIN, id: service, requires: [METADATA_PLUGIN], exports: { methods: methods.join(",") } });
  }
  return plugins;
}

/** Build the Version and Introspection methods; Plugins lists `services()` as they are when it is called. */
export function infoServices(services: () => GrpcServices, info: ServerInfo): GrpcServices {
  const plugins: GrpcMethod = {
    kind: "unary",
    run(_context, request) {
      const filter = parseFilters(readStringList(request, "filters"));
      const matching = pluginList(services(), info).filter((plugin) =>
        filter.match((fieldpath) => {
          const key = fieldpath[0];
          if (fieldpath.length !== 1 || (key !== "type" && key !== "id")) return { value: "", present: false };
          const value = String(plugin[key]);
          return { value, present: value !== "" };
        }),
      );
      return { plugins: matching };
    },
  };
  return {
    version: { Version: { kind: "unary", run: () => ({ version: info.version, revision: info.revision }) } },
    introspection: {
      Plugins: plugins,
      Server: { kind: "unary", run: () => ({ uuid: info.uuid }) },
    },
  };
}
