/**
 * Every NATS name ctrmeta uses: streams, subjects, consumers and buckets.
 *
 * Layout (P is the prefix, `ctrmeta` by default; <x> is an encoded token):
 *
 *   stream P_LOG      P.log.>              the event log, source of truth
 *     P.log.ns.<ns>                          one namespace's own events
 *     P.log.ctr.<ns>.<id>                    one container
 *     P.log.img.<ns>.<name>                  one image
 *     P.log.cnt.<ns>.<digest>                one content record
 *     P.log.snap.<ns>.<snapshotter>.<key>    one snapshot record
 *     P.log.lease.<ns>.<id>                  one lease and its resources
 *     P.log.gc                               garbage collections
 *
 *   stream P_TOPICS   P.topic.>            containerd-shaped notifications, derived
 *     P.topic.<ns>.<c1>.<c2>                 topic /c1/c2 in namespace ns, e.g.
 *                                            P.topic.default.containers.create
 *
 *   service "ctrmeta" P.api.v1.<ns>.<service>.<method>    request/reply API;
 *     <ns> is the request's namespace ("_" for none; for the namespace service, the
 *     target namespace), so NATS permissions can confine a user to a namespace.
 *
 *   P.internal.gc.<method>   answered by the elected garbage collector only
 *   P.internal.status        answered by every instance
 *   durable consumer P-gc on P_LOG, KV bucket P-election (see streams/)
 *
 * One subject per aggregate gives per-object optimistic concurrency with
 * `Nats-Expected-Last-Subject-Sequence`. Bump LAYOUT_VERSION when this changes.
 */
import { createHash } from "node:crypto";
import type { Aggregate } from "../events/types.js";

export const LAYOUT_VERSION = 1;

export const DEFAULT_PREFIX = "ctrmeta";

/**
 * Encoded tokens longer than this are replaced by a hash. 230 keeps every valid
 * namespace name (at most 76 characters, each at most 3 encoded) reversible.
 */
export const MAX_TOKEN_LENGTH = 230;

const KEEP = /^[A-Za-z0-9-]$/;
const HASH_MARKER = "__";
const EMPTY_TOKEN = "_";

/**
 * Encode any string as one subject token: `[A-Za-z0-9-]` stay, every other UTF-8
 * byte becomes `_XX` (upper-case hex), "" becomes `_`, and a result longer than
 * MAX_TOKEN_LENGTH becomes `__` plus the SHA-256 of the string. So `.`, `*`, `>`,
 * spaces and control characters can never split or widen a subject.
 */
export function encodeToken(value: string): string {
  if (value === "") return EMPTY_TOKEN;
  let out = "";
  for (const ch of value) {
    if (KEEP.test(ch)) {
      out += ch;
      continue;
    }
    for (const byte of Buffer.from(ch, "utf8")) out += `_${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (out.length > MAX_TOKEN_LENGTH) return HASH_MARKER + createHash("sha256").update(value, "utf8").digest("hex");
  return out;
}

/** Decode a token made by encodeToken; undefined for a hashed or malformed token. */
export function decodeToken(token: string): string | undefined {
  if (token === EMPTY_TOKEN) return "";
  if (token.startsWith(HASH_MARKER) || token === "") return undefined;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const ch = token[i]!;
    if (ch === "_") {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else if (KEEP.test(ch)) {
      bytes.push(ch.charCodeAt(0));
    } else {
      return undefined;
    }
  }
  const text = Buffer.from(bytes).toString("utf8");
  return encodeToken(text) === token ? text : undefined;
}

const KIND_TOKENS: Record<Aggregate["kind"], string> = {
  namespace: "ns",
  container: "ctr",
  image: "img",
  content: "cnt",
  snapshot: "snap",
  lease: "lease",
  gc: "gc",
};

/** Names derived from one prefix; tests may use their own prefix on a shared server. */
export class Layout {
  readonly prefix: string;
  readonly logStream: string;
  readonly topicStream: string;
  readonly serviceName = "ctrmeta";

  constructor(prefix = DEFAULT_PREFIX) {
    if (!/^[A-Za-z0-9_-]+$/.test(prefix)) throw new Error(`invalid prefix ${JSON.stringify(prefix)}: use [A-Za-z0-9_-]`);
    this.prefix = prefix;
    this.logStream = `${prefix.toUpperCase()}_LOG`;
    this.topicStream = `${prefix.toUpperCase()}_TOPICS`;
  }

  /** Wildcard of the whole log. */
  get logSubjects(): string {
    return `${this.prefix}.log.>`;
  }

  get topicSubjects(): string {
    return `${this.prefix}.topic.>`;
  }

  /** The log subject of one aggregate in one namespace. */
  aggregateSubject(namespace: string, aggregate: Aggregate): string {
    const kind = KIND_TOKENS[aggregate.kind];
    if (aggregate.kind === "gc") return `${this.prefix}.log.${kind}`;
    if (aggregate.kind === "namespace") return `${this.prefix}.log.${kind}.${encodeToken(namespace)}`;
    const snapshotter = aggregate.kind === "snapshot" ? `${encodeToken(aggregate.snapshotter ?? "")}.` : "";
    return `${this.prefix}.log.${kind}.${encodeToken(namespace)}.${snapshotter}${encodeToken(aggregate.key)}`;
  }

  /**
   * The notification subject of a containerd topic. Topic components are encoded
   * one by one, so `/containers/create` in `default` is `P.topic.default.containers.create`.
   */
  topicSubject(namespace: string, topic: string): string {
    const components = topic.split("/").filter((part) => part !== "");
    return `${this.prefix}.topic.${encodeToken(namespace)}.${components.map(encodeToken).join(".")}`;
  }

  /**
   * A subscription filter for notifications: one namespace or all (`undefined`),
   * one topic or all.
   */
  topicFilter(namespace?: string, topic?: string): string {
    const ns = namespace === undefined ? "*" : encodeToken(namespace);
    if (topic === undefined) return `${this.prefix}.topic.${ns}.>`;
    const components = topic.split("/").filter((part) => part !== "");
    return `${this.prefix}.topic.${ns}.${components.map(encodeToken).join(".")}`;
  }

  /** The API subject of one method; `namespace` undefined means "no namespace". */
  apiSubject(namespace: string | undefined, service: string, method: string): string {
    return `${this.apiPrefix}.${namespace === undefined ? EMPTY_TOKEN : encodeToken(namespace)}.${service}.${method}`;
  }

  /** Endpoint subject serving one method for every namespace. */
  apiEndpoint(service: string, method: string): string {
    return `${this.apiPrefix}.*.${service}.${method}`;
  }

  get apiPrefix(): string {
    return `${this.prefix}.api.v1`;
  }

  /** Subject the elected garbage collector answers for one of its methods. */
  internalGcSubject(method: "collect" | "status"): string {
    return `${this.prefix}.internal.gc.${method}`;
  }

  /** Subject every instance answers with its own status. */
  get internalStatusSubject(): string {
    return `${this.prefix}.internal.status`;
  }

  /**
   * Whether the service may send a reply to `subject`. A reply subject inside
   * ctrmeta's own subjects or a system subject (`$JS.…`, `$KV.…`) would let a
   * requester make the service write into the log, a notification stream or the
   * JetStream API, so such requests are dropped.
   */
  isSafeReply(subject: string | undefined): boolean {
    if (!subject) return false;
    return !subject.startsWith(`${this.prefix}.`) && !subject.startsWith("$");
  }

  /** The namespace token of an API subject, or undefined when the subject is not one. */
  apiNamespaceToken(subject: string): string | undefined {
    const prefix = `${this.apiPrefix}.`;
    if (!subject.startsWith(prefix)) return undefined;
    return subject.slice(prefix.length).split(".")[0];
  }
}
