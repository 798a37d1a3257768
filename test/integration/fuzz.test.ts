/**
 * Fuzz test of the API's input guards. A seeded generator sends more than 100,000
 * malformed or hostile requests, mixed with valid traffic whose outcomes are checked,
 * to a service started by the test. Every request to an endpoint must get exactly one
 * typed reply, and nothing may go unhandled in the process. Valid traffic must read
 * back what it wrote, and the state must equal what a fresh instance rebuilds from
 * the log.
 *
 * CTRMETA_FUZZ_SEED sets the seed (printed by every run) and CTRMETA_FUZZ_REQUESTS
 * the number of requests.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { connect as connectTcp, type Socket } from "node:net";
import { Writable } from "node:stream";
import { after, before, describe, it, type TestContext } from "node:test";
import { headers as natsHeaders, type Msg, type MsgHdrs, type Subscription } from "@nats-io/nats-core";
import { Unpackr } from "msgpackr";
import { pino } from "pino";
import { encodeContainer, encodeContentInfo, encodeImage, encodeLease, encodeSnapshot } from "../../src/api/wire.js";
import type { MetadataError } from "../../src/domain/errors.js";
import { listLeaseResources } from "../../src/domain/lease.js";
import { sortBytes } from "../../src/domain/order.js";
import type { MetadataState } from "../../src/domain/state.js";
import { packValue, unpackValue } from "../../src/events/codec.js";
import { decodeToken, encodeToken } from "../../src/nats/subjects.js";
import type { Instance } from "../../src/service.js";
import { startInstance, startStack, type Stack } from "../helpers/nats.js";

const SEED = Number(process.env.CTRMETA_FUZZ_SEED ?? 20231109) >>> 0;
const TOTAL_REQUESTS = Number(process.env.CTRMETA_FUZZ_REQUESTS ?? 100_000);
const IN_FLIGHT = 64;
/** Generous, because gc.collect and status.get wait for other work under load. */
const REPLY_TIMEOUT_MS = 30_000;
/** Share of requests that belong to valid scenarios. */
const VALID_SHARE = 0.1;
/** Requests sent over the raw protocol connection, which nats.js cannot write. */
const RAW_REQUESTS = 1_500;

/** Error kinds docs/api.md lists, with their gRPC codes; `Unknown` is a bug for bad input. */
const DOCUMENTED_KINDS: Record<string, number> = {
  InvalidArgument: 3,
  NotFound: 5,
  AlreadyExists: 6,
  FailedPrecondition: 9,
  NotImplemented: 12,
  Unavailable: 14,
  DeadlineExceeded: 4,
  Unknown: 2,
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const JSON_TYPE = "application/json";
const MSGPACK = "application/msgpack";
const PREFIX = "ctrmeta.api.v1";

// ---------------------------------------------------------------------------
// Seeded random values

/** mulberry32: small, fast and good enough to spread test inputs. */
class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  range(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  chance(probability: number): boolean {
    return this.next() < probability;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.int(256);
    return out;
  }

  word(min = 1, max = 12): string {
    const letters = "abcdefghijklmnopqrstuvwxyz0123456789";
    let out = "";
    for (let i = this.range(min, max); i > 0; i--) out += letters[this.int(letters.length)];
    return out;
  }

  /** Pick by weight from `[value, weight]` pairs. */
  weighted<T>(table: ReadonlyArray<readonly [T, number]>): T {
    const total = table.reduce((sum, [, weight]) => sum + weight, 0);
    let roll = this.next() * total;
    for (const [value, weight] of table) {
      roll -= weight;
      if (roll < 0) return value;
    }
    return table[table.length - 1]![0];
  }
}

/** The generator of task `index`: every task is reproducible from the seed alone. */
function rngFor(index: number): Rng {
  return new Rng((SEED ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
}

// ---------------------------------------------------------------------------
// Values for request bodies

type Body = Record<string, unknown>;

const FUZZ_NAMESPACES = ["default", "fuzz-a", "fuzz.b", "fuzz_c"];
const SNAPSHOTTERS = ["overlayfs", "native"];
const DIGESTS = ["a", "b", "c", "d"].map((char) => `sha256:${char.repeat(64)}`);
const IDS = ["a", "b", "web", "db", "c-1", "x.y"];
const IMAGE_NAMES = ["docker.io/library/nginx:latest", "busybox", "a/b:c", "registry.local:5000/x@sha256:1"];
const KEYS = ["k1", "k2", "base", "layer-1", "active"];
const LEASES = ["l1", "l2", "pull"];
const VALID_FILTERS = ["", "id==a", "labels.app==web", 'labels."a.b"==c', "name~=^b", "id!=x", "kind==committed", "digest~=/sha256/", "labels.app"];
const BAD_FILTERS = ["==", "id==", "labels.", "~=x", "id~=(", "id~=[", "a,,b", 'labels."unterminated', "id=~x", "id==a,", ",", "id>x", "labels.a==|x|", "name~=|a|b|", "\u0000", "id==\"\\x\""];
const HOSTILE = [
  ".", "*", ">", "a.b", "a*b", "a>b", "a b", "a\tb", "a\nb", "\r\n", "\u0000", "a\u0000b", "\u0001\u001f\u007f",
  "\u0085\u2028\u2029", "\ufeff", "é", "😀", "\u202e", "..", "a.", ".a", " ", "", "$SRV", "_INBOX", "%s%n", "../..",
  "\\", '"', "'", "{}", "null", "__proto__", "constructor", "toString", "_", "__", "_2E", "ctrmeta.api.v1.>",
];

function labels(rng: Rng): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = rng.int(4); i > 0; i--) out[rng.pick(["app", "a.b", "tier", "containerd.io/gc.root", rng.word()])] = rng.pick(["web", "x", "", rng.word()]);
  return out;
}

function anyValue(rng: Rng): Body {
  if (rng.chance(0.2)) return { typeUrl: "types.containerd.io/opts", valueBase64: Buffer.from(rng.bytes(rng.int(12))).toString("base64") };
  return { typeUrl: "types.containerd.io/opencontainers/runtime-spec/1/Spec", value: { ociVersion: "1.1.0", process: { args: [rng.word()] } } };
}

function hostileString(rng: Rng): string {
  switch (rng.int(8)) {
    case 0:
      return "x".repeat(4096);
    case 1:
      return rng.pick(["x", "é", "."]).repeat(rng.range(1400, 11000));
    case 2: {
      let out = "";
      for (let i = rng.range(1, 20); i > 0; i--) out += String.fromCharCode(rng.int(0x80));
      return out;
    }
    case 3:
      return rng.pick(HOSTILE) + rng.word() + rng.pick(HOSTILE);
    default:
      return rng.pick(HOSTILE);
  }
}

// ---------------------------------------------------------------------------
// What each method reads

/** The shape of a field, which decides its valid and its wrong values. */
type Shape =
  | { kind: "string"; make: (rng: Rng, target: string) => string }
  | { kind: "integer"; make: (rng: Rng) => number }
  | { kind: "boolean" }
  | { kind: "labels" }
  | { kind: "any" }
  | { kind: "anyMap" }
  | { kind: "filters" }
  | { kind: "mask"; paths: string[] }
  | { kind: "timestamp" }
  | { kind: "object"; fields: Record<string, Field> };

interface Field {
  shape: Shape;
  /** Probability that a valid body has the field. */
  presence: number;
  /** The method reads the field only in some cases, so a wrong type need not fail. */
  lenient?: boolean;
}

const text = (make: (rng: Rng, target: string) => string, presence = 1): Field => ({ shape: { kind: "string", make }, presence });
const field = (shape: Shape, presence = 1, lenient = false): Field => ({ shape, presence, lenient });
const object = (fields: Record<string, Field>, presence = 1): Field => ({ shape: { kind: "object", fields }, presence });
const id = text((rng) => (rng.chance(0.8) ? rng.pick(IDS) : rng.word()));
const digest = text((rng) => (rng.chance(0.8) ? rng.pick(DIGESTS) : `sha256:${Buffer.from(rng.bytes(32)).toString("hex")}`));
const key = text((rng) => (rng.chance(0.8) ? rng.pick(KEYS) : rng.word()));
const snapshotter = text((rng) => rng.pick(SNAPSHOTTERS));
const filters = field({ kind: "filters" }, 0.7);
const labelMap = (presence = 0.7) => field({ kind: "labels" }, presence);
const mask = (paths: string[]) => field({ kind: "mask", paths }, 0.8);

interface MethodSpec {
  service: string;
  method: string;
  /** `required`: the request's namespace; `target`: the namespace the body names; `none`: not used. */
  namespace: "required" | "target" | "none";
  body: Record<string, Field>;
  /** Relative frequency among fuzzed methods; slow methods are rare. */
  weight: number;
  /** Its labels are validated before anything that could fail first. */
  labelsChecked?: boolean;
}

const CONTAINER = object({
  id,
  labels: labelMap(),
  image: text((rng) => rng.pick(IMAGE_NAMES), 0.7),
  runtime: object({ name: text((rng) => rng.pick(["io.containerd.runc.v2", "r"])), options: field({ kind: "any" }, 0.3) }),
  spec: field({ kind: "any" }),
  snapshotter: text((rng) => rng.pick(SNAPSHOTTERS), 0.5),
  snapshotKey: text((rng) => rng.pick(KEYS), 0.3),
  extensions: field({ kind: "anyMap" }, 0.3),
  sandbox: text((rng) => rng.word(), 0.2),
});
const IMAGE = object({
  name: text((rng) => (rng.chance(0.8) ? rng.pick(IMAGE_NAMES) : rng.word())),
  labels: labelMap(),
  target: object({
    mediaType: text(() => "application/vnd.oci.image.manifest.v1+json"),
    digest,
    size: field({ kind: "integer", make: (rng) => rng.range(1, 100000) }),
    annotations: labelMap(0.5),
  }),
});
const IMAGE_NAME = text((rng) => (rng.chance(0.8) ? rng.pick(IMAGE_NAMES) : rng.word()));
const RESOURCE = object({ id: text((rng) => rng.pick([...DIGESTS, ...KEYS])), type: text((rng) => rng.pick(["content", "ingests", "snapshots/overlayfs"])) });
const TARGET = text((_rng, target) => target);

const METHODS: MethodSpec[] = [
  { service: "containers", method: "create", namespace: "required", weight: 3, labelsChecked: true, body: { container: CONTAINER } },
  { service: "containers", method: "get", namespace: "required", weight: 2, body: { id } },
  { service: "containers", method: "list", namespace: "required", weight: 2, body: { filters } },
  { service: "containers", method: "update", namespace: "required", weight: 3, body: { container: CONTAINER, updateMask: mask(["labels", "labels.app", "spec", "image", "snapshotkey", "extensions", "extensions.x"]) } },
  { service: "containers", method: "delete", namespace: "required", weight: 1, body: { id } },
  { service: "images", method: "create", namespace: "required", weight: 3, labelsChecked: true, body: { image: IMAGE, sourceDateEpoch: field({ kind: "timestamp" }, 0.2) } },
  { service: "images", method: "get", namespace: "required", weight: 2, body: { name: IMAGE_NAME } },
  { service: "images", method: "list", namespace: "required", weight: 2, body: { filters } },
  { service: "images", method: "update", namespace: "required", weight: 3, body: { image: IMAGE, updateMask: mask(["labels", "labels.app", "annotations", "annotations.a", "target"]), sourceDateEpoch: field({ kind: "timestamp" }, 0.2) } },
  { service: "images", method: "delete", namespace: "required", weight: 1, body: { name: text((rng) => rng.pick(IMAGE_NAMES)), sync: field({ kind: "boolean" }, 0.1) } },
  { service: "namespaces", method: "create", namespace: "target", weight: 2, labelsChecked: true, body: { namespace: object({ name: TARGET, labels: labelMap() }) } },
  { service: "namespaces", method: "get", namespace: "target", weight: 2, body: { name: TARGET } },
  { service: "namespaces", method: "list", namespace: "target", weight: 1, body: {} },
  { service: "namespaces", method: "update", namespace: "target", weight: 2, body: { namespace: object({ name: TARGET, labels: labelMap() }), updateMask: mask(["labels.app", "labels.tier"]) } },
  { service: "namespaces", method: "delete", namespace: "target", weight: 1, body: { name: TARGET } },
  { service: "content", method: "commit", namespace: "required", weight: 3, labelsChecked: true, body: { digest, size: field({ kind: "integer", make: (rng) => rng.range(0, 1 << 30) }), labels: labelMap() } },
  { service: "content", method: "info", namespace: "required", weight: 2, body: { digest } },
  { service: "content", method: "list", namespace: "required", weight: 2, body: { filters } },
  { service: "content", method: "update", namespace: "required", weight: 2, body: { info: object({ digest, labels: labelMap() }), updateMask: mask(["labels", "labels.app"]) } },
  { service: "content", method: "delete", namespace: "required", weight: 1, body: { digest } },
  { service: "snapshots", method: "prepare", namespace: "required", weight: 3, labelsChecked: true, body: { snapshotter, key, parent: text((rng) => rng.pick(KEYS), 0.3), labels: labelMap() } },
  { service: "snapshots", method: "view", namespace: "required", weight: 1, labelsChecked: true, body: { snapshotter, key, parent: text((rng) => rng.pick(KEYS), 0.3), labels: labelMap() } },
  { service: "snapshots", method: "commit", namespace: "required", weight: 2, labelsChecked: true, body: { snapshotter, name: key, key, labels: labelMap() } },
  { service: "snapshots", method: "stat", namespace: "required", weight: 2, body: { snapshotter, key } },
  { service: "snapshots", method: "update", namespace: "required", weight: 2, body: { snapshotter, info: object({ name: key, labels: labelMap() }), updateMask: mask(["labels", "labels.app"]) } },
  { service: "snapshots", method: "list", namespace: "required", weight: 2, body: { snapshotter, filters } },
  { service: "snapshots", method: "remove", namespace: "required", weight: 1, body: { snapshotter, key } },
  { service: "snapshots", method: "snapshotters", namespace: "none", weight: 1, body: {} },
  { service: "leases", method: "create", namespace: "required", weight: 2, body: { id: text((rng) => rng.pick(LEASES), 0.8), labels: labelMap() } },
  { service: "leases", method: "delete", namespace: "required", weight: 1, body: { id: text((rng) => rng.pick(LEASES)), sync: field({ kind: "boolean" }, 0.1) } },
  { service: "leases", method: "list", namespace: "required", weight: 2, body: { filters } },
  { service: "leases", method: "addResource", namespace: "required", weight: 2, body: { id: text((rng) => rng.pick(LEASES)), resource: RESOURCE } },
  { service: "leases", method: "deleteResource", namespace: "required", weight: 1, body: { id: text((rng) => rng.pick(LEASES)), resource: RESOURCE } },
  { service: "leases", method: "listResources", namespace: "required", weight: 2, body: { id: text((rng) => rng.pick(LEASES)) } },
  { service: "gc", method: "collect", namespace: "none", weight: 0.02, body: {} },
  { service: "gc", method: "status", namespace: "none", weight: 0.3, body: {} },
  {
    service: "gc",
    method: "explain",
    namespace: "required",
    weight: 1,
    body: { kind: text((rng) => rng.pick(["content", "snapshot", "lease", "image", "container"])), key, snapshotter: { ...snapshotter, lenient: true } },
  },
  // history.get reads in the request's namespace but does not require one.
  { service: "history", method: "get", namespace: "none", weight: 0.3, body: { kind: text((rng) => rng.pick(["namespace", "container", "image", "content", "snapshot", "lease"])), key, snapshotter } },
  { service: "status", method: "get", namespace: "none", weight: 0.05, body: {} },
  { service: "status", method: "instance", namespace: "none", weight: 0.3, body: {} },
];
const METHOD_TABLE = METHODS.map((spec) => [spec, spec.weight] as const);
const SERVED = new Set(METHODS.map((spec) => `${spec.service}.${spec.method}`));
const READS = new Set(["get", "list", "info", "stat", "listResources", "explain", "snapshotters"]);
const LIST_METHODS = new Set(["list", "listResources"]);

function validValue(rng: Rng, shape: Shape, target: string): unknown {
  switch (shape.kind) {
    case "string":
      return shape.make(rng, target);
    case "integer":
      return shape.make(rng);
    case "boolean":
      return false;
    case "labels":
      return labels(rng);
    case "any":
      return anyValue(rng);
    case "anyMap":
      return { [rng.pick(["x", "y", rng.word()])]: anyValue(rng) };
    case "filters":
      return rng.chance(0.5) ? [rng.pick(VALID_FILTERS)] : [];
    case "mask": {
      const paths = shape.paths.filter(() => rng.chance(0.4));
      return rng.chance(0.2) ? { paths } : paths;
    }
    case "timestamp":
      return rng.pick(["2023-11-09T10:00:00Z", "2001-02-03T04:05:06.123456789+02:00"]);
    case "object":
      return validObject(rng, shape.fields, target);
  }
}

function validObject(rng: Rng, fields: Record<string, Field>, target: string): Body {
  const out: Body = {};
  for (const [name, spec] of Object.entries(fields)) {
    if (rng.chance(spec.presence)) out[name] = validValue(rng, spec.shape, target);
  }
  return out;
}

/** Values of the wrong type for a shape; null is absent, so never among them. */
function wrongValue(rng: Rng, shape: Shape, binary: boolean): unknown {
  const common: unknown[] = [5, 1.5, true, [], [1, "a"]];
  const choices: Record<Shape["kind"], unknown[]> = {
    string: [...common, {}, { a: "b" }, ...(binary ? [new Uint8Array([1, 2])] : [])],
    integer: ["abc", 1.5, true, {}, [], "1e3", 2 ** 60, -0.5, "0x10"],
    boolean: ["true", 1, {}, [], "false"],
    labels: ["x", 5, [], ["a"], { k: 5 }, { k: {} }, { k: [] }, { k: true }, { k: 1.5 }],
    any: ["x", 5, [], { typeUrl: 5 }, { typeUrl: "t", valueBase64: 5 }, { typeUrl: "t", valueBase64: "***" }, { typeUrl: [] }],
    anyMap: ["x", 5, [], { k: "v" }, { k: 5 }, { k: { typeUrl: 5 } }, { k: [] }],
    filters: ["id==a", 5, {}, ["id==a", 5], [{}], [[]], true],
    mask: [5, "labels", true, [5], { paths: 5 }, { paths: [1] }, { paths: "labels" }, [["labels"]]],
    timestamp: [5, "yesterday", "2024-02-30T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T10:00:60Z", {}, "", "2024-13-01T00:00:00Z"],
    object: ["x", 5, [], true, 1.5],
  };
  return rng.pick(choices[shape.kind]);
}

/** List every field path of a spec's body, objects included, with its field. */
function fieldPaths(fields: Record<string, Field>, prefix: string[] = []): Array<{ path: string[]; field: Field }> {
  const out: Array<{ path: string[]; field: Field }> = [];
  for (const [name, spec] of Object.entries(fields)) {
    const path = [...prefix, name];
    out.push({ path, field: spec });
    if (spec.shape.kind === "object") out.push(...fieldPaths(spec.shape.fields, path));
  }
  return out;
}

/** Set `value` at `path` as an own property (even `__proto__`), creating objects on the way. */
function setPath(body: Body, path: string[], value: unknown): void {
  let at = body;
  for (const name of path.slice(0, -1)) {
    const next = at[name];
    if (typeof next !== "object" || next === null || Array.isArray(next)) at[name] = {};
    at = at[name] as Body;
  }
  Object.defineProperty(at, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
}

function deletePath(body: Body, path: string[]): void {
  let at: unknown = body;
  for (const name of path.slice(0, -1)) at = (at as Body | undefined)?.[name];
  if (typeof at === "object" && at !== null) delete (at as Body)[path[path.length - 1]!];
}

// ---------------------------------------------------------------------------
// Probes: one request each, with what its reply must be

interface Probe {
  category: string;
  subject: string;
  headers: Array<[string, string]>;
  data: Uint8Array;
  /** The subject has an endpoint, so a reply (not "no responders") is due. */
  served: boolean;
  /** The one error kind that is acceptable, when the input makes it certain. */
  expect?: string;
  /** Whether the request is for a chunked list reply. */
  chunked: boolean;
  /** Short description for failure messages. */
  describe: string;
}

interface Draft {
  spec: MethodSpec;
  namespace: string;
  body: Body;
  msgpack: boolean;
  headers: Array<[string, string]>;
  token: string;
}

/** A valid request of a random method, the starting point of most probes. */
function draft(rng: Rng): Draft {
  const spec = rng.weighted(METHOD_TABLE);
  const namespace = rng.pick(FUZZ_NAMESPACES);
  const headers: Array<[string, string]> = [];
  const msgpack = rng.chance(0.3);
  if (msgpack) headers.push(["Content-Type", MSGPACK]);
  else if (rng.chance(0.5)) headers.push(["Content-Type", JSON_TYPE]);
  let token = encodeToken(namespace);
  if (spec.namespace === "target" && spec.method === "list" && rng.chance(0.5)) token = "_";
  if (token !== "_" && rng.chance(0.5)) headers.push(["containerd-namespace", namespace]);
  const body = validObject(rng, spec.body, namespace);
  return { spec, namespace, body, msgpack, headers, token };
}

function encodeBody(body: unknown, msgpack: boolean): Uint8Array {
  return msgpack ? packValue(body) : encoder.encode(JSON.stringify(body));
}

function probeOf(category: string, d: Draft, overrides: Partial<Probe> = {}): Probe {
  const subject = `${PREFIX}.${d.token}.${d.spec.service}.${d.spec.method}`;
  // Only list methods reply in chunks, and any other method replies once.
  const chunked = LIST_METHODS.has(d.spec.method) && d.headers.some(([name, value]) => name === "Ctrmeta-List-Chunks" && value === "true");
  return {
    category,
    subject,
    headers: d.headers,
    data: encodeBody(d.body, d.msgpack),
    served: true,
    chunked,
    describe: `${d.spec.service}.${d.spec.method} ns=${JSON.stringify(d.namespace)}${d.msgpack ? " msgpack" : ""}`,
    ...overrides,
  };
}

/** Expect exactly this error kind, for a request whose one fault makes the kind certain. */
function strictly(kind: string): Partial<Probe> {
  return { expect: kind };
}

const localUnpackr = new Unpackr({ useRecords: false, mapsAsObjects: false, structuredClone: false });

/** Whether the server must reject these bytes as a body, judged by decoding them here. */
function undecodable(data: Uint8Array, msgpack: boolean): boolean {
  if (data.length === 0) return false;
  let value: unknown;
  try {
    value = msgpack ? localUnpackr.unpack(data) : JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data));
  } catch {
    return true;
  }
  if (value === null || value === undefined) return false;
  if (msgpack) return !(value instanceof Map);
  return typeof value !== "object" || Array.isArray(value);
}

function invalidJson(rng: Rng): Probe {
  const d = draft(rng);
  d.msgpack = false;
  d.headers = d.headers.filter(([name]) => name !== "Content-Type");
  const valid = encoder.encode(JSON.stringify(d.body));
  let data: Uint8Array;
  switch (rng.int(7)) {
    case 0:
      data = valid.subarray(0, rng.range(1, Math.max(1, valid.length - 1)));
      break;
    case 1:
      data = rng.bytes(rng.range(1, 64));
      break;
    case 2:
      data = encoder.encode(rng.pick(["[]", "[1,2]", '"str"', "123", "true", "1e400", "-", "{", "}", "{'a':1}", '{"a":}', "{,}", '{"a" 1}']));
      break;
    case 3:
      data = encoder.encode(`${JSON.stringify(d.body)}${rng.pick([" junk", "}", ",", "{}", "\u0000"])}`);
      break;
    case 4:
      // Raw bytes that are not UTF-8 inside a string.
      data = Buffer.concat([encoder.encode('{"id":"'), Buffer.from(rng.pick([[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]])), encoder.encode('"}')]);
      break;
    case 5:
      data = encoder.encode(JSON.stringify(d.body).replace(/:/, rng.pick(["::", ":NaN,", ":undefined", ":0x10"])));
      break;
    default:
      data = encoder.encode(`\u0000${JSON.stringify(d.body)}`);
  }
  return probeOf("invalid-json", d, { data, ...(undecodable(data, false) ? strictly("InvalidArgument") : {}) });
}

/** MessagePack extension and oddity snippets, each a complete value. */
const MSGPACK_ODDITIES: number[][] = [
  [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // uint64 beyond 2^53
  [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 1], // int64 below -2^53
  [0xd4, 0x05, 0x01], // unknown extension
  [0xd6, 0xff, 0, 0, 0, 1], // timestamp
  [0xd4, 0xff, 0x01], // invalid timestamp
  [0xd5, 0x73, 0x90, 0x01], // set
  [0xd4, 0x78, 0x01], // regexp
  [0xd4, 0x65, 0x01], // error
  [0xd4, 0x42, 0x01], // bigint
  [0xd5, 0x74, 0x09, 0x02], // typed array
  [0xd6, 0x69, 0, 0, 0, 1, 0x90], // structured clone id
  [0xd6, 0x70, 0, 0, 0, 1], // structured clone pointer
  [0xd6, 0x62, 0xff, 0xff, 0xff, 0xf0], // string bundle with a bad size
  [0xc1], // never used
  [0xd4, 0x00, 0x00], // undefined
  [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], // NaN
  [0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0], // Infinity
  [0xdb, 0xff, 0xff, 0xff, 0xff], // str32 longer than the body
  [0xdd, 0xff, 0xff, 0xff, 0xff], // array32 longer than the body
  [0xdf, 0xff, 0xff, 0xff, 0xff], // map32 longer than the body
  [0xa2, 0xff, 0xfe], // string that is not UTF-8
  [0xc4, 0x02, 0x01, 0x02], // binary
];

function invalidMsgpack(rng: Rng): Probe {
  const d = draft(rng);
  d.msgpack = true;
  d.headers = [["Content-Type", MSGPACK], ...d.headers.filter(([name]) => name !== "Content-Type")];
  const valid = packValue(d.body);
  let data: Uint8Array;
  switch (rng.int(6)) {
    case 0:
      data = valid.subarray(0, rng.range(1, Math.max(1, valid.length - 1)));
      break;
    case 1:
      data = rng.bytes(rng.range(1, 64));
      break;
    case 2: {
      // A map whose value for a read field is an oddity.
      const name = Object.keys(d.spec.body)[0] ?? "id";
      data = Buffer.concat([Buffer.from([0x81]), Buffer.from(packValue(name)), Buffer.from(rng.pick(MSGPACK_ODDITIES))]);
      break;
    }
    case 3:
      // The whole body is an oddity.
      data = Uint8Array.from(rng.pick(MSGPACK_ODDITIES));
      break;
    case 4:
      // Map keys that are not strings: an integer, binary, a map.
      data = Uint8Array.from(rng.pick([[0x81, 0x01, 0xa1, 0x61], [0x81, 0xc4, 0x01, 0x61, 0xc0], [0x81, 0x80, 0xc0], [0x81, 0x90, 0xc0]]));
      break;
    default:
      data = Buffer.concat([Buffer.from(valid), Buffer.from(rng.bytes(rng.range(1, 4)))]);
  }
  return probeOf("invalid-msgpack", d, { data, ...(undecodable(data, true) ? strictly("InvalidArgument") : {}) });
}

function wrongType(rng: Rng): Probe {
  let d = draft(rng);
  while (Object.keys(d.spec.body).length === 0) d = draft(rng);
  const { path, field: spec } = rng.pick(fieldPaths(d.spec.body));
  const value = wrongValue(rng, spec.shape, d.msgpack);
  setPath(d.body, path, value);
  const lenient = spec.lenient === true || (d.token === "_" && d.spec.namespace === "required");
  return probeOf("wrong-type", d, { ...(lenient ? {} : strictly("InvalidArgument")), describe: `${d.spec.service}.${d.spec.method} ${path.join(".")}=${JSON.stringify(value) ?? "binary"}` });
}

function missingField(rng: Rng): Probe {
  const d = draft(rng);
  const paths = fieldPaths(d.spec.body);
  if (paths.length > 0) deletePath(d.body, rng.pick(paths).path);
  return probeOf("missing-field", d);
}

function unknownField(rng: Rng): Probe {
  const d = draft(rng);
  const value = rng.pick<unknown>([rng.word(), 5, null, [1, 2], { nested: { deeper: true } }, "", -1]);
  const objects = fieldPaths(d.spec.body).filter(({ field: spec }) => spec.shape.kind === "object").map(({ path }) => path);
  const at = rng.chance(0.5) || objects.length === 0 ? [] : rng.pick(objects);
  setPath(d.body, [...at, rng.pick(["createdAt", "updatedAt", "extra", "__proto__", "constructor", "ID", "Id", rng.word()])], value);
  return probeOf("unknown-field", d);
}

function hostileStrings(rng: Rng): Probe {
  const d = draft(rng);
  const strings = fieldPaths(d.spec.body).filter(({ field: spec }) => ["string", "labels"].includes(spec.shape.kind));
  if (strings.length === 0) return probeOf("hostile-string", d);
  const { path, field: spec } = rng.pick(strings);
  let value = hostileString(rng);
  let expect: string | undefined;
  if (rng.chance(0.1)) {
    value = `a${rng.pick(["\ud800", "\udfff", "\udc00\ud800"])}b`;
    if (!d.msgpack) expect = "InvalidArgument";
  }
  if (spec.shape.kind === "labels") {
    setPath(d.body, path, rng.chance(0.5) ? { [value]: "v" } : { key: value });
  } else {
    setPath(d.body, path, value);
    if (Buffer.byteLength(value, "utf8") > 4096 && !spec.lenient) expect = "InvalidArgument";
  }
  const preview = value.length > 40 ? `${JSON.stringify(value.slice(0, 20))}... (${value.length} chars)` : JSON.stringify(value);
  return probeOf("hostile-string", d, { ...(expect === undefined ? {} : strictly(expect)), describe: `${d.spec.service}.${d.spec.method} ${path.join(".")}=${preview}` });
}

/** Labels above the size limit, one huge one or very many. */
function hugeLabels(rng: Rng): Probe {
  let d = draft(rng);
  let labelled = fieldPaths(d.spec.body).filter(({ field: spec }) => spec.shape.kind === "labels");
  while (labelled.length === 0) {
    d = draft(rng);
    labelled = fieldPaths(d.spec.body).filter(({ field: spec }) => spec.shape.kind === "labels");
  }
  const { path } = rng.pick(labelled);
  const map: Record<string, string> = {};
  let single = false;
  if (rng.chance(0.6)) {
    single = true;
    const size = rng.range(4097, 20000);
    const keyBytes = rng.int(size);
    map[`k${"k".repeat(Math.max(0, keyBytes - 1))}`] = "v".repeat(size - Math.max(1, keyBytes));
  } else {
    const count = rng.range(50, 1500);
    const valueSize = Math.min(3000, Math.floor(850_000 / count));
    for (let i = 0; i < count; i++) map[`label-${i}`] = rng.pick(["v", "\u0000", "é"]).repeat(Math.max(1, Math.floor(valueSize / 2)));
  }
  setPath(d.body, path, map);
  // A create validates its labels before anything else can fail, unless the label is an annotation.
  const strict = single && d.spec.labelsChecked === true && path[path.length - 1] === "labels" && d.token !== "_";
  return probeOf("huge-labels", d, { ...(strict ? strictly("InvalidArgument") : {}), describe: `${d.spec.service}.${d.spec.method} ${path.join(".")} ${single ? "one label" : `${Object.keys(map).length} labels`}` });
}

function deepNesting(rng: Rng): Probe {
  const d = draft(rng);
  const depth = rng.pick([101, 150, 1000, 10_000, 100_000]);
  let data: Uint8Array;
  if (d.msgpack) {
    const nested = Buffer.alloc(depth + 1, 0x91);
    nested[depth] = 0xc0;
    data = Buffer.concat([Buffer.from([0x81]), Buffer.from(packValue(rng.pick(["spec", "labels", "x", "container"]))), nested]);
  } else {
    const marker = "\u0001deep\u0001";
    const open = rng.chance(0.5) ? "[" : '{"a":';
    const close = open === "[" ? "]" : "}";
    const paths = fieldPaths(d.spec.body);
    setPath(d.body, paths.length > 0 && rng.chance(0.7) ? rng.pick(paths).path : ["deep"], marker);
    data = encoder.encode(JSON.stringify(d.body).replace(JSON.stringify(marker), `${open.repeat(depth)}1${close.repeat(depth)}`));
  }
  return probeOf("deep-nesting", d, { data, ...strictly("InvalidArgument"), describe: `${d.spec.service}.${d.spec.method} depth ${depth}` });
}

/** One shared buffer for bodies above the max payload, so they cost no allocation each. */
const OVERSIZE = Buffer.alloc(1024 * 1024 + 64 * 1024, 0x20);

function oversize(rng: Rng, maxPayload: number): Probe {
  const d = draft(rng);
  const data = OVERSIZE.subarray(0, maxPayload + rng.range(1, 60 * 1024));
  return probeOf("oversize", d, { data, describe: `${data.length} bytes` });
}

function badHeaders(rng: Rng): Probe {
  const d = draft(rng);
  const set = (name: string, value: string) => {
    d.headers = [...d.headers.filter(([existing]) => existing !== name), [name, value]];
  };
  let expect: string | undefined;
  const read = READS.has(d.spec.method);
  // Most headers are checked after the body is decoded and the namespace resolved.
  const namespaced = d.token !== "_";
  switch (rng.int(12)) {
    case 0:
      set("Content-Type", rng.pick(["text/plain", "application/json; charset=utf-8", "APPLICATION/MSGPACK", "", "application/msgpack ", "\u0001", "application/x-msgpack"]));
      d.msgpack = false;
      break;
    case 1: {
      // The other codec's bytes.
      d.headers = d.headers.filter(([name]) => name !== "Content-Type");
      if (!d.msgpack) d.headers.push(["Content-Type", MSGPACK]);
      const data = encodeBody(d.body, d.msgpack);
      d.msgpack = !d.msgpack;
      return probeOf("bad-header", d, { data, ...(undecodable(data, d.msgpack) ? strictly("InvalidArgument") : {}), describe: `${d.spec.service}.${d.spec.method} body in the other codec` });
    }
    case 2:
      if (d.token === "_") break;
      set("containerd-namespace", rng.pick(["other", "", "DEFAULT", `${d.namespace}.`, "*", ">", "a b", d.namespace.toUpperCase() + "x"]));
      expect = "InvalidArgument";
      break;
    case 3:
      set("Ctrmeta-Min-Revision", rng.pick(["-1", "abc", "1e3", "0x10", "1.5", "+5", "-0", "٣", "99999999999999999999", "NaN", "Infinity"]));
      if (namespaced) expect = "InvalidArgument";
      break;
    case 4:
      set("Ctrmeta-Min-Revision", "0");
      set("Ctrmeta-Wait-Ms", rng.pick(["1e9", "-5", "abc", "60001", "1.5", "0x10", "99999999999999999999"]));
      if (namespaced) expect = "InvalidArgument";
      break;
    case 5:
      set("Ctrmeta-Min-Revision", String(rng.range(0, 5)));
      set("Ctrmeta-Wait-Ms", String(rng.range(0, 50)));
      break;
    case 6:
      set("Ctrmeta-At", rng.pick(["yesterday", "-1", "2024-02-30T00:00:00Z", "1e3", "0x1", "2024-01-01T24:00:00Z", "99999999999999", "now", "2024-01-01"]));
      if (namespaced) expect = "InvalidArgument";
      break;
    case 7:
      // A real position in the log, which only reads accept.
      set("Ctrmeta-At", String(rng.range(0, 3)));
      if (!read && namespaced) expect = "InvalidArgument";
      break;
    case 8:
      // Unique, because the service replies to a reused id with the first request's outcome.
      set("Ctrmeta-Request-Id", rng.chance(0.5) ? "r".repeat(rng.range(257, 4000)) : `${rng.pick(["\u0001", "é", "a b", "x"])}-${rng.word(16, 16)}`);
      if (d.headers.some(([, value]) => value.length > 256)) expect = "InvalidArgument";
      break;
    case 9:
      set("containerd-lease", rng.chance(0.3) ? "l".repeat(rng.range(4097, 9000)) : rng.pick(["missing", ...LEASES, "\u0001", "a.b"]));
      if (d.headers.some(([name, value]) => name === "containerd-lease" && value.length > 4096) && namespaced) expect = "InvalidArgument";
      break;
    case 10:
      set("Ctrmeta-List-Chunks", rng.pick(["true", "TRUE", "1", "yes", ""]));
      break;
    default:
      // Every header at once, some twice.
      d.headers.push(["Ctrmeta-Request-Id", rng.word(16, 16)], ["Ctrmeta-Request-Id", rng.word(16, 16)], ["X-Unknown", "\u0000"], ["Nats-Msg-Id", "dup"], ["Nats-Expected-Last-Sequence", "0"]);
  }
  return probeOf("bad-header", d, { ...(expect === undefined ? {} : strictly(expect)), describe: `${d.spec.service}.${d.spec.method} headers ${JSON.stringify(d.headers).slice(0, 160)}` });
}

const MALFORMED_TOKENS = ["_ZZ", "_2", "_2e", "_41", "a_", "__", "_0A_", "_-", "__abc", `__${"0".repeat(64)}`, "A_2E_", "_C3", "_FF_FE", "_E2_82", "_ED_A0_80"];

function namespaceTokens(rng: Rng): Probe {
  const d = draft(rng);
  d.headers = d.headers.filter(([name]) => name !== "containerd-namespace");
  switch (rng.int(4)) {
    case 0: {
      const token = rng.pick(MALFORMED_TOKENS);
      assert.equal(decodeToken(token), undefined, `token ${token} must be malformed`);
      d.token = token;
      return probeOf("namespace-token", d, { ...strictly("InvalidArgument"), describe: `${d.spec.service}.${d.spec.method} token ${token}` });
    }
    case 1: {
      // A name long enough to be hashed: without the header it cannot be decoded.
      const name = rng.pick([".", "x", "é"]).repeat(rng.range(231, 3000));
      d.token = encodeToken(name);
      const withHeader = rng.chance(0.5);
      if (withHeader) d.headers.push(["containerd-namespace", name]);
      return probeOf("namespace-token", d, { ...(withHeader ? {} : strictly("InvalidArgument")), describe: `${d.spec.service}.${d.spec.method} hashed token, header ${withHeader}` });
    }
    case 2:
      d.token = "_";
      return probeOf("namespace-token", d, {
        ...(d.spec.namespace === "required" ? strictly("FailedPrecondition") : {}),
        describe: `${d.spec.service}.${d.spec.method} no namespace`,
      });
    default: {
      // A token that decodes to a name that is not a valid identifier.
      const name = hostileString(rng).slice(0, 60);
      d.token = encodeToken(name);
      // A header value cannot hold a line break.
      if (rng.chance(0.5) && !/[\r\n]/.test(name)) d.headers.push(["containerd-namespace", name]);
      return probeOf("namespace-token", d, { describe: `${d.spec.service}.${d.spec.method} namespace ${JSON.stringify(name)}` });
    }
  }
}

function unknownMethod(rng: Rng): Probe {
  const service = rng.pick([...new Set(METHODS.map((spec) => spec.service))]);
  let method = rng.pick(["Create", "GET", "lists", "commit", "prepare", "explain", "x", rng.word(), "get-", "$SRV", "info"]);
  while (SERVED.has(`${service}.${method}`)) method = `${method}x`;
  const token = encodeToken(rng.pick(FUZZ_NAMESPACES));
  return { category: "unknown-method", subject: `${PREFIX}.${token}.${service}.${method}`, headers: [], data: encoder.encode("{}"), served: false, chunked: false, describe: `${service}.${method}` };
}

function unknownService(rng: Rng): Probe {
  const token = encodeToken(rng.pick(FUZZ_NAMESPACES));
  const subject = rng.pick([
    `${PREFIX}.${token}.x-${rng.word()}.list`,
    `${PREFIX}.${token}.x-${rng.word()}.${rng.word()}`,
    `${PREFIX}.${token}.containers`,
    `${PREFIX}.${token}.containers.list.extra`,
    `${PREFIX}.containers.list`,
    `${PREFIX}.${token}`,
    `${PREFIX}.${token}.x-${rng.word()}`,
    `${PREFIX}.${token}.gc.collect.now`,
    `ctrmeta.api.v2.${token}.containers.list`,
  ]);
  return { category: "unknown-service", subject, headers: [], data: encoder.encode("{}"), served: false, chunked: false, describe: subject };
}

/** Publish to subjects with wildcard tokens, which NATS may deliver to the endpoint or to no one. */
function wildcardSubject(rng: Rng): Probe {
  const subject = rng.pick([`${PREFIX}.*.containers.list`, `${PREFIX}.>.containers.list`, `${PREFIX}.default.*.list`, `${PREFIX}.default.containers.*`, `${PREFIX}.>`]);
  return { category: "wildcard-subject", subject, headers: [], data: encoder.encode("{}"), served: false, chunked: false, describe: subject };
}

function filterFuzz(rng: Rng): Probe {
  let d = draft(rng);
  while (!("filters" in d.spec.body)) d = draft(rng);
  const pieces = [...VALID_FILTERS, ...BAD_FILTERS, "labels.\"x\"", ",", "==", "~=", "!=", "/", "|", "\\", '"', "(", ")", "[", "]", "a", ".", " ", "\t", "é", "\u0000"];
  const list: string[] = [];
  for (let i = rng.range(1, 4); i > 0; i--) {
    let filter = "";
    for (let j = rng.range(1, 8); j > 0; j--) filter += rng.pick(pieces);
    list.push(filter);
  }
  if (rng.chance(0.1)) list.push(`id~=${"(a*)*".repeat(rng.range(10, 2000))}b`);
  if (rng.chance(0.05)) list.push(`labels.${"a.".repeat(rng.range(1000, 50_000))}b==c`);
  d.body.filters = list;
  return probeOf("filters", d, { describe: `${d.spec.service}.${d.spec.method} filters ${JSON.stringify(list).slice(0, 120)}` });
}

function maskFuzz(rng: Rng): Probe {
  let d = draft(rng);
  while (!("updateMask" in d.spec.body)) d = draft(rng);
  const paths: string[] = [];
  for (let i = rng.range(1, 6); i > 0; i--) {
    paths.push(rng.pick(["labels.", "labels..", "labels.a.b", "Labels", "LABELS.app", "id", "name", "createdAt", "spec.process", "extensions.", "annotations.", "target.digest", "runtime.name", "snapshotter", "", hostileString(rng), `labels.${"k".repeat(5000)}`]));
  }
  if (rng.chance(0.05)) for (let i = 0; i < 20_000; i++) paths.push(`labels.k${i}`);
  d.body.updateMask = rng.chance(0.3) ? { paths } : paths;
  return probeOf("update-mask", d, { describe: `${d.spec.service}.${d.spec.method} ${paths.length} paths` });
}

const CATEGORY_TABLE: ReadonlyArray<readonly [(rng: Rng, maxPayload: number) => Probe, number]> = [
  [invalidJson, 9],
  [invalidMsgpack, 9],
  [wrongType, 15],
  [missingField, 5],
  [unknownField, 5],
  [hostileStrings, 10],
  [hugeLabels, 3],
  [deepNesting, 2.5],
  [oversize, 0.4],
  [badHeaders, 11],
  [namespaceTokens, 8],
  [unknownMethod, 3],
  [unknownService, 3],
  [wildcardSubject, 0.5],
  [filterFuzz, 4],
  [maskFuzz, 3],
];

// ---------------------------------------------------------------------------
// Sending probes and collecting replies

type Outcome =
  | { type: "reply"; replies: Msg[] }
  | { type: "noResponders" }
  | { type: "refused"; message: string }
  | { type: "timeout"; replies: Msg[] };

interface Waiting {
  chunked: boolean;
  replies: Msg[];
  resolve: (outcome: Outcome) => void;
  timer: NodeJS.Timeout;
}

/** Requests on one inbox, so that every reply is seen, including a second one. */
class Prober {
  private readonly waiting = new Map<string, Waiting>();
  private readonly finished = new Set<string>();
  private readonly subscription: Subscription;
  private sequence = 0;
  /** Replies that arrived for a request that already had its reply. */
  readonly extraReplies: string[] = [];

  constructor(
    private readonly stack: Stack,
    private readonly inbox: string,
  ) {
    this.subscription = stack.client.nc.subscribe(`${inbox}.>`, { callback: (_error, msg) => this.onReply(msg) });
  }

  private onReply(msg: Msg): void {
    const id = msg.subject.slice(this.inbox.length + 1);
    const waiting = this.waiting.get(id);
    if (!waiting) {
      if (this.finished.has(id)) this.extraReplies.push(id);
      return;
    }
    if (msg.headers?.code === 503 && msg.data.length === 0) return this.finish(id, { type: "noResponders" });
    waiting.replies.push(msg);
    const error = msg.headers?.get("Nats-Service-Error-Code");
    if (!waiting.chunked || error || msg.data.length === 0) this.finish(id, { type: "reply", replies: waiting.replies });
  }

  private finish(id: string, outcome: Outcome): void {
    const waiting = this.waiting.get(id)!;
    clearTimeout(waiting.timer);
    this.waiting.delete(id);
    this.finished.add(id);
    waiting.resolve(outcome);
  }

  send(probe: Probe): Promise<Outcome> {
    const id = String(++this.sequence);
    let headers: MsgHdrs | undefined;
    for (const [name, value] of probe.headers) {
      headers ??= natsHeaders();
      headers.append(name, value);
    }
    return new Promise<Outcome>((resolve) => {
      const timer = setTimeout(() => this.finish(id, { type: "timeout", replies: this.waiting.get(id)?.replies ?? [] }), REPLY_TIMEOUT_MS);
      this.waiting.set(id, { chunked: probe.chunked, replies: [], resolve, timer });
      try {
        this.stack.client.nc.publish(probe.subject, probe.data, { reply: `${this.inbox}.${id}`, ...(headers ? { headers } : {}) });
      } catch (error) {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve({ type: "refused", message: (error as Error).message });
      }
    });
  }

  /** Wait for stray second replies, then stop listening. */
  async close(): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    this.subscription.unsubscribe();
  }
}

interface Reply {
  ok: boolean;
  kind: string;
  message: string;
  body: Body;
  revision: number | undefined;
}

/** Decode one reply and check that it is a well-formed success or typed error. */
function readReply(msg: Msg, msgpack: boolean, problems: string[]): Reply {
  const code = msg.headers?.get("Nats-Service-Error-Code");
  let body: Body = {};
  if (msg.data.length > 0) {
    try {
      body = (msgpack ? unpackValue(msg.data) : JSON.parse(decoder.decode(msg.data))) as Body;
    } catch (error) {
      problems.push(`reply body cannot be decoded: ${(error as Error).message}`);
    }
  }
  const revisionText = msg.headers?.get("Ctrmeta-Revision");
  const revision = revisionText ? Number(revisionText) : undefined;
  if (!code) return { ok: true, kind: "ok", message: "", body, revision };

  const kind = msg.headers?.get("Ctrmeta-Error-Kind") ?? "";
  const error = (body.error ?? {}) as { kind?: string; code?: number; message?: string };
  if (!(kind in DOCUMENTED_KINDS)) problems.push(`undocumented error kind ${JSON.stringify(kind)}`);
  else if (Number(code) !== DOCUMENTED_KINDS[kind]) problems.push(`kind ${kind} with code ${code}`);
  if (error.kind !== kind) problems.push(`body kind ${JSON.stringify(error.kind)} differs from header kind ${kind}`);
  if (error.code !== Number(code)) problems.push(`body code ${String(error.code)} differs from header code ${code}`);
  if (typeof error.message !== "string" || error.message === "") problems.push("error reply without a message");
  return { ok: false, kind, message: error.message ?? "", body, revision };
}

// ---------------------------------------------------------------------------
// Counters

class Tally {
  readonly counts = new Map<string, number>();

  add(key: string, by = 1): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + by);
  }

  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  lines(): string[] {
    const keys = [...this.counts.keys()].sort();
    return keys.map((key) => `${key}: ${this.counts.get(key)}`);
  }
}

interface Run {
  maxPayload: number;
  failuresByCategory: Tally;
  sent: Tally;
  outcomes: Tally;
  failures: string[];
  unknowns: string[];
}

function maxPayloadOf(run: Run): number {
  return run.maxPayload;
}

function fail(run: Run, message: string, category = "other"): void {
  run.failuresByCategory.add(category);
  if (run.failures.length < 100) run.failures.push(message);
  else run.failures[99] = `... and more (last: ${message})`;
}

function judge(run: Run, probe: Probe, outcome: Outcome, index: number): void {
  const label = `#${index} ${probe.category} ${probe.describe}`;
  run.sent.add(probe.category);

  if (outcome.type === "refused") {
    run.outcomes.add(`${probe.category} -> refused by NATS`);
    // Any category may exceed the max payload now and then (JSON escapes grow a body).
    if (probe.data.length < maxPayloadOf(run) - 8192) fail(run, `${label}: NATS refused the request: ${outcome.message}`, probe.category);
    return;
  }
  if (outcome.type === "noResponders") {
    run.outcomes.add(`${probe.category} -> no responders`);
    if (probe.served) fail(run, `${label}: no responders on a served subject ${probe.subject}`, probe.category);
    return;
  }
  if (outcome.type === "timeout") {
    run.outcomes.add(`${probe.category} -> no reply`);
    fail(run, `${label}: no complete reply within ${REPLY_TIMEOUT_MS} ms (${outcome.replies.length} messages) on ${probe.subject}`, probe.category);
    return;
  }

  if (probe.category === "oversize") fail(run, `${label}: a body above the max payload was accepted`, probe.category);
  if (!probe.served && probe.category !== "wildcard-subject") fail(run, `${label}: a reply from ${probe.subject}, which nothing should serve`, probe.category);
  // nats.js trims header values, so "application/msgpack " arrives as MessagePack.
  const msgpack = probe.headers.some(([name, value]) => name === "Content-Type" && value.trim() === MSGPACK);
  const last = outcome.replies[outcome.replies.length - 1]!;
  const problems: string[] = [];
  const reply = readReply(last, msgpack, problems);

  run.outcomes.add(`${probe.category} -> ${reply.kind}`);
  for (const problem of problems) fail(run, `${label}: ${problem}`, probe.category);
  if (reply.kind === "Unknown") run.unknowns.push(`${label}: ${reply.message.slice(0, 300)}`);
  if (probe.expect !== undefined && reply.kind !== probe.expect) {
    fail(run, `${label}: expected ${probe.expect}, got ${reply.kind} ${reply.message.slice(0, 300)}`, probe.category);
  }
}

// ---------------------------------------------------------------------------
// Valid traffic: short scenarios whose every step has a known outcome

const VALID_NAMESPACES = Array.from({ length: 8 }, (_, i) => `valid-${i}`);
const SPEC_VALUE = { ociVersion: "1.1.0", process: { args: ["sh"], cwd: "/" }, root: { path: "rootfs" } };
const SPEC_TYPE = "types.containerd.io/opencontainers/runtime-spec/1/Spec";

class Scenario {
  steps = 0;

  constructor(
    private readonly prober: Prober,
    private readonly run: Run,
    private readonly label: string,
    private readonly namespace: string,
    private readonly msgpack: boolean,
  ) {}

  /** Send one valid request and check its outcome kind; returns the reply. */
  async call(service: string, method: string, body: Body, expectKind = "ok", extra: Array<[string, string]> = []): Promise<Reply | undefined> {
    this.steps++;
    const headers: Array<[string, string]> = [["Ctrmeta-Request-Id", `${this.label}-${this.steps}`], ...extra];
    if (this.msgpack) headers.push(["Content-Type", MSGPACK]);
    const chunked = extra.some(([name, value]) => name === "Ctrmeta-List-Chunks" && value === "true");
    const token = service === "namespaces" && method === "list" ? "_" : encodeToken(this.namespace);
    const probe: Probe = {
      category: "valid",
      subject: `${PREFIX}.${token}.${service}.${method}`,
      headers,
      data: encodeBody(body, this.msgpack),
      served: true,
      chunked,
      describe: `${this.label} step ${this.steps} ${service}.${method}`,
    };

    const outcome = await this.prober.send(probe);
    this.run.sent.add("valid");
    if (outcome.type !== "reply") {
      this.run.outcomes.add(`valid -> ${outcome.type}`);
      fail(this.run, `${probe.describe}: ${outcome.type}`, "valid");
      return undefined;
    }

    const problems: string[] = [];
    const replies = outcome.replies.map((msg) => readReply(msg, this.msgpack, problems));
    const last = replies[replies.length - 1]!;
    this.run.outcomes.add(`valid -> ${last.kind}`);
    for (const problem of problems) fail(this.run, `${probe.describe}: ${problem}`, "valid");
    if (last.kind !== expectKind) {
      fail(this.run, `${probe.describe}: expected ${expectKind}, got ${last.kind} ${last.message.slice(0, 300)}`, "valid");
      return undefined;
    }
    if (chunked && last.ok) {
      // Merge the chunks into one body, as the client library does.
      const field = Object.keys(replies[0]?.body ?? {})[0] ?? "items";
      const items = replies.slice(0, -1).flatMap((reply) => (reply.body[field] as unknown[] | undefined) ?? []);
      return { ...last, body: { [field]: items } };
    }
    return last;
  }

  check(condition: boolean, message: string): void {
    if (!condition) fail(this.run, `${this.label}: ${message}`, "valid");
  }
}

/** A name that is valid but hostile: it must round-trip exactly. */
function oddName(rng: Rng, base: string): string {
  return rng.pick([base, `${base}.with.dots`, `${base} with spaces`, `${base}\ttab`, `${base}*>`, `${base}-é-😀`, `${base}\u0001ctl`, `${base}/${"n".repeat(rng.range(100, 4000))}`]);
}

async function containerScenario(s: Scenario, rng: Rng, label: string): Promise<void> {
  const id = `${label}-ctr`;
  const spec = { typeUrl: SPEC_TYPE, value: SPEC_VALUE };
  const created = await s.call("containers", "create", { container: { id, image: oddName(rng, "img"), runtime: { name: "io.containerd.runc.v2" }, spec, labels: { app: "web" } } });
  const image = (created?.body.container as Body | undefined)?.image;
  const read = await s.call("containers", "get", { id });
  const container = read?.body.container as Body | undefined;
  s.check(container?.id === id && container?.image === image, `get returned ${JSON.stringify(container)?.slice(0, 200)}`);
  s.check(JSON.stringify((container?.spec as Body | undefined)?.value) === JSON.stringify(SPEC_VALUE), "spec did not round-trip");
  await s.call("containers", "update", { container: { id, labels: { tier: "db" } }, updateMask: ["labels.tier"] });
  const updated = (await s.call("containers", "get", { id }))?.body.container as Body | undefined;
  s.check(JSON.stringify(updated?.labels) === JSON.stringify({ app: "web", tier: "db" }), `labels after update: ${JSON.stringify(updated?.labels)}`);
  const listed = await s.call("containers", "list", { filters: [`id==${id}`] }, "ok", rng.chance(0.5) ? [["Ctrmeta-List-Chunks", "true"]] : []);
  s.check(((listed?.body.containers as Body[] | undefined) ?? []).length === 1, "list by id did not find the container");
  await s.call("containers", "create", { container: { id, runtime: { name: "r" }, spec } }, "AlreadyExists");
  await s.call("containers", "delete", { id });
  await s.call("containers", "get", { id }, "NotFound");
}

async function imageScenario(s: Scenario, rng: Rng, label: string): Promise<void> {
  const name = oddName(rng, `${label}-image`);
  const target = { mediaType: "application/vnd.oci.image.index.v1+json", digest: rng.pick(DIGESTS), size: rng.range(1, 1 << 20) };
  await s.call("images", "create", { image: { name, target, labels: { a: "1" } } });
  const image = (await s.call("images", "get", { name }))?.body.image as Body | undefined;
  s.check(image?.name === name, `image name did not round-trip: ${JSON.stringify(image?.name)?.slice(0, 100)}`);
  s.check(JSON.stringify({ ...(image?.target as Body | undefined), annotations: undefined }) === JSON.stringify({ ...target, annotations: undefined }), "target did not round-trip");
  await s.call("images", "update", { image: { name, labels: { b: "2" } }, updateMask: ["labels.b"] });
  const updated = (await s.call("images", "get", { name }))?.body.image as Body | undefined;
  s.check(JSON.stringify(updated?.labels) === JSON.stringify({ a: "1", b: "2" }), `image labels: ${JSON.stringify(updated?.labels)}`);
  const listed = await s.call("images", "list", { filters: [`name==${JSON.stringify(name)}`] });
  s.check(((listed?.body.images as Body[] | undefined) ?? []).some((item) => item.name === name), "list by name did not find the image");
  await s.call("images", "delete", { name });
  await s.call("images", "get", { name }, "NotFound");
}

async function contentScenario(s: Scenario, rng: Rng, label: string): Promise<void> {
  const lease = oddName(rng, `${label}-lease`);
  const digest = `sha256:${createHash("sha256").update(label).digest("hex")}`;
  await s.call("leases", "create", { id: lease, labels: { purpose: "fuzz" } });
  const committed = await s.call("content", "commit", { digest, size: 42, labels: { app: "x" } }, "ok", [["containerd-lease", lease]]);
  s.check((committed?.body.info as Body | undefined)?.size === 42, "commit reply lacks the size");
  const info = (await s.call("content", "info", { digest }))?.body.info as Body | undefined;
  s.check(info?.digest === digest && info?.size === 42, `info returned ${JSON.stringify(info)}`);
  await s.call("content", "update", { info: { digest, labels: { app: "y" } }, updateMask: ["labels.app"] });
  const resources = (await s.call("leases", "listResources", { id: lease }))?.body.resources as Body[] | undefined;
  s.check((resources ?? []).some((resource) => resource.id === digest && resource.type === "content"), "the lease does not hold the content");
  await s.call("content", "commit", { digest, size: 42 }, "AlreadyExists");
  await s.call("content", "delete", { digest });
  await s.call("content", "info", { digest }, "NotFound");
  await s.call("leases", "delete", { id: lease });
}

async function snapshotScenario(s: Scenario, rng: Rng, label: string): Promise<void> {
  const snapshotter = rng.pick(SNAPSHOTTERS);
  const root = { "containerd.io/gc.root": "fuzz" };
  const active = oddName(rng, `${label}-active`);
  const committed = `${label}-committed`;
  const child = `${label}-child`;
  await s.call("snapshots", "prepare", { snapshotter, key: active, labels: root });
  const stat = (await s.call("snapshots", "stat", { snapshotter, key: active }))?.body.info as Body | undefined;
  s.check(stat?.name === active && stat?.kind === "active", `stat returned ${JSON.stringify(stat)?.slice(0, 200)}`);
  await s.call("snapshots", "commit", { snapshotter, name: committed, key: active, labels: root });
  await s.call("snapshots", "stat", { snapshotter, key: active }, "NotFound");
  await s.call("snapshots", "prepare", { snapshotter, key: child, parent: committed, labels: root });
  await s.call("snapshots", "remove", { snapshotter, key: committed }, "FailedPrecondition");
  await s.call("snapshots", "remove", { snapshotter, key: child });
  await s.call("snapshots", "remove", { snapshotter, key: committed });
  await s.call("snapshots", "stat", { snapshotter, key: committed }, "NotFound");
}

async function namespaceScenario(s: Scenario, _rng: Rng, label: string, namespace: string): Promise<void> {
  void label;
  await s.call("namespaces", "create", { namespace: { name: namespace, labels: { owner: "fuzz" } } }, "ok");
  const read = (await s.call("namespaces", "get", { name: namespace }))?.body.namespace as Body | undefined;
  s.check(JSON.stringify(read?.labels) === JSON.stringify({ owner: "fuzz" }), `namespace labels: ${JSON.stringify(read?.labels)}`);
  await s.call("namespaces", "update", { namespace: { name: namespace, labels: { tier: "x" } }, updateMask: ["labels.tier"] });
  const list = await s.call("namespaces", "list", {});
  s.check(((list?.body.namespaces as Body[] | undefined) ?? []).some((item) => item.name === namespace), "namespace missing from the list");
  await s.call("namespaces", "delete", { name: namespace });
  const deleted = (await s.call("namespaces", "get", { name: namespace }))?.body.namespace as Body | undefined;
  s.check(Object.keys((deleted?.labels as Body | undefined) ?? {}).length === 0, "a deleted namespace still has labels");
}

/** Run one valid scenario; namespaces scenarios get a namespace of their own. */
async function runScenario(prober: Prober, run: Run, rng: Rng, index: number): Promise<number> {
  const label = `v${index}`;
  const kind = rng.int(5);
  const namespace = kind === 4 ? `valid-ns-${index}` : rng.pick(VALID_NAMESPACES);
  const scenario = new Scenario(prober, run, label, namespace, rng.chance(0.3));
  const scenarios = [containerScenario, imageScenario, contentScenario, snapshotScenario];
  if (kind === 4) await namespaceScenario(scenario, rng, label, namespace);
  else await scenarios[kind]!(scenario, rng, label);
  return scenario.steps;
}

// ---------------------------------------------------------------------------
// Raw protocol: headers and subjects that nats.js would not write

interface RawMessage {
  subject: string;
  headers: string;
  data: Buffer;
}

/** A minimal NATS protocol client over TCP, to send malformed header blocks. */
class RawClient {
  private buffer = Buffer.alloc(0);
  private readonly handlers = new Map<string, (message: RawMessage) => void>();
  readonly errors: string[] = [];
  closed = false;

  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    socket.on("close", () => {
      this.closed = true;
    });
    socket.on("error", (error) => this.errors.push(error.message));
  }

  static async connect(port: number, inbox: string): Promise<RawClient> {
    const socket = connectTcp(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", () => resolve());
      socket.once("error", reject);
    });
    const client = new RawClient(socket);
    socket.write(`CONNECT {"verbose":false,"pedantic":false,"headers":true,"no_responders":true,"protocol":1}\r\nSUB ${inbox}.> 1\r\n`);
    await client.ping();
    return client;
  }

  private pong: (() => void) | undefined;

  ping(): Promise<void> {
    return new Promise((resolve) => {
      this.pong = resolve;
      this.socket.write("PING\r\n");
    });
  }

  on(reply: string, handler: (message: RawMessage) => void): void {
    this.handlers.set(reply, handler);
  }

  publish(subject: Buffer, reply: string, headerBlock: Buffer, payload: Buffer): void {
    const total = headerBlock.length + payload.length;
    this.socket.write(Buffer.concat([Buffer.from("HPUB "), subject, Buffer.from(` ${reply} ${headerBlock.length} ${total}\r\n`), headerBlock, payload, Buffer.from("\r\n")]));
  }

  private parse(): void {
    for (;;) {
      const end = this.buffer.indexOf("\r\n");
      if (end < 0) return;
      const line = this.buffer.toString("latin1", 0, end);
      if (line.startsWith("MSG ") || line.startsWith("HMSG ")) {
        const parts = line.split(" ");
        const withHeaders = parts[0] === "HMSG";
        const total = Number(parts[parts.length - 1]);
        const headerLength = withHeaders ? Number(parts[parts.length - 2]) : 0;
        if (this.buffer.length < end + 2 + total + 2) return;
        const payload = this.buffer.subarray(end + 2, end + 2 + total);
        this.buffer = this.buffer.subarray(end + 2 + total + 2);
        const subject = parts[1]!;
        this.handlers.get(subject)?.({ subject, headers: payload.subarray(0, headerLength).toString("utf8"), data: Buffer.from(payload.subarray(headerLength)) });
        continue;
      }
      this.buffer = this.buffer.subarray(end + 2);
      if (line === "PING") this.socket.write("PONG\r\n");
      else if (line === "PONG") this.pong?.();
      else if (line.startsWith("-ERR")) this.errors.push(line);
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Build one raw probe: a header block or subject that nats.js cannot produce. */
function rawProbe(rng: Rng): { subject: Buffer; headerBlock: Buffer; payload: Buffer; describe: string; served: boolean } {
  const namespace = rng.pick(FUZZ_NAMESPACES);
  const method = rng.pick(METHODS.filter((spec) => spec.weight >= 1));
  const subject = Buffer.from(`${PREFIX}.${encodeToken(namespace)}.${method.service}.${method.method}`);
  const header = (lines: string[]) => Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  const body = Buffer.from(JSON.stringify(validObject(rng, method.body, namespace)));
  const describe = `${method.service}.${method.method}`;
  switch (rng.int(8)) {
    case 0:
      return { subject, headerBlock: header(["NATS/1.0", rng.pick(["Bad Key: x", "K\xe9y: x", "Key\x01: x", "\x00: x", "A B C: d", "Key\x7f: v"])]), payload: body, describe: `${describe} bad header name`, served: true };
    case 1:
      return { subject, headerBlock: header([rng.pick(["NATS/1.0 503", "NATS/1.0 100 Idle Heartbeat", "NATS/1.0 408 Request Timeout", "NATS/2.0", "garbage", "NATS/1.0 abc"])]), payload: body, describe: `${describe} status line`, served: true };
    case 2:
      return { subject, headerBlock: header(["NATS/1.0", `containerd-namespace: ${rng.pick(["\xff\xfe", "\xc3\xa9", "default\x00"])}`]), payload: body, describe: `${describe} namespace bytes`, served: true };
    case 3:
      return { subject, headerBlock: header(["NATS/1.0", "NoColonHere", ": empty name", "Content-Type:", "Content-Type: application/msgpack", "Content-Type: application/json"]), payload: body, describe: `${describe} odd lines`, served: true };
    case 4: {
      const token = Buffer.from(rng.pick([[0xff], [0xc3, 0xa9], [0x01, 0x02], [0xed, 0xa0, 0x80], [0x7f]]));
      const raw = Buffer.concat([Buffer.from(`${PREFIX}.`), token, Buffer.from(`.${method.service}.${method.method}`)]);
      return { subject: raw, headerBlock: header(["NATS/1.0"]), payload: body, describe: `${describe} token bytes ${token.toString("hex")}`, served: true };
    }
    case 5:
      return { subject, headerBlock: Buffer.from("NATS/1.0\r\n", "latin1"), payload: body, describe: `${describe} header block without its end`, served: true };
    case 6:
      return { subject, headerBlock: header(["NATS/1.0", `content-type: ${MSGPACK}`]), payload: body, describe: `${describe} lower-case content type`, served: true };
    default:
      return { subject, headerBlock: header(["NATS/1.0", `Ctrmeta-Request-Id: ${"\xe9".repeat(rng.range(1, 300))}`]), payload: body, describe: `${describe} non-UTF-8 request id`, served: true };
  }
}

/** Parse a reply's header block into the status code and a header lookup. */
function parseRawHeaders(block: string): { code: number; get: (name: string) => string | undefined } {
  const lines = block.split("\r\n");
  const code = Number(lines[0]?.split(" ")[1] ?? 0);
  const values = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) values.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return { code, get: (name) => values.get(name) };
}

async function runRaw(port: number, run: Run, maxPayload: number): Promise<string[]> {
  const inbox = "_INBOX.fuzzraw";
  const client = await RawClient.connect(port, inbox);
  const notes: string[] = [];
  let next = 0;
  const sendOne = (index: number): Promise<void> => {
    const probe = rawProbe(rngFor(1_000_000 + index));
    const reply = `${inbox}.${index}`;
    return new Promise<void>((resolve) => {
      const replies: RawMessage[] = [];
      const timer = setTimeout(() => {
        run.outcomes.add("raw-protocol -> no reply");
        fail(run, `raw #${index} ${probe.describe}: no reply`, "raw-protocol");
        resolve();
      }, REPLY_TIMEOUT_MS);
      client.on(reply, (message) => {
        replies.push(message);
        if (replies.length > 1) {
          fail(run, `raw #${index} ${probe.describe}: ${replies.length} replies`, "raw-protocol");
          return;
        }
        clearTimeout(timer);
        const headers = parseRawHeaders(message.headers);
        if (headers.code === 503 && message.data.length === 0) {
          run.outcomes.add("raw-protocol -> no responders");
          if (probe.served) fail(run, `raw #${index} ${probe.describe}: no responders`, "raw-protocol");
        } else {
          const kind = headers.get("Ctrmeta-Error-Kind") ?? (headers.get("Nats-Service-Error-Code") ? "untyped error" : "ok");
          run.outcomes.add(`raw-protocol -> ${kind}`);
          if (kind === "Unknown") run.unknowns.push(`raw #${index} ${probe.describe}: ${headers.get("Nats-Service-Error") ?? ""}`);
          else if (kind !== "ok" && !(kind in DOCUMENTED_KINDS)) fail(run, `raw #${index} ${probe.describe}: reply kind ${kind}`, "raw-protocol");
        }
        resolve();
      });
      run.sent.add("raw-protocol");
      client.publish(probe.subject, reply, probe.headerBlock, probe.payload);
    });
  };
  const workers = Array.from({ length: 16 }, async () => {
    while (next < RAW_REQUESTS) await sendOne(next++);
  });
  await Promise.all(workers);
  await new Promise((resolve) => setTimeout(resolve, 500));

  // Above the max payload, nats-server itself refuses the message and closes the connection.
  run.sent.add("raw-oversize");
  client.publish(Buffer.from(`${PREFIX}.default.containers.list`), `${inbox}.oversize`, Buffer.from("NATS/1.0\r\n\r\n"), OVERSIZE.subarray(0, maxPayload + 1));
  for (let waited = 0; waited < 5000 && !client.closed; waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  const payloadError = client.errors.find((error) => /payload/i.test(error));
  run.outcomes.add(`raw-oversize -> ${payloadError ? "refused by NATS" : "not refused"}`);
  if (!payloadError) fail(run, `nats-server did not refuse a raw message above the max payload (errors: ${client.errors.join("; ")})`, "raw-protocol");
  else notes.push(`nats-server: ${payloadError}`);
  client.close();
  return notes;
}

// ---------------------------------------------------------------------------
// State comparison

interface NamespaceDump {
  name: string;
  labels: Record<string, string>;
  containers: Body[];
  images: Body[];
  content: Body[];
  snapshots: Array<{ snapshotter: string; records: Body[] }>;
  leases: Body[];
  hasContainerBucket: boolean;
}

/** Dump every record of a state in a canonical, comparable form. */
function dumpState(state: MetadataState): NamespaceDump[] {
  return sortBytes([...state.namespaces.keys()]).map((name) => {
    const namespace = state.namespaces.get(name)!;
    const sorted = <T>(records: Map<string, T>, encode: (record: T) => Body) => sortBytes([...records.keys()]).map((key) => encode(records.get(key)!));
    return {
      name,
      labels: { ...namespace.labels },
      containers: sorted(namespace.containers, encodeContainer),
      images: sorted(namespace.images, encodeImage),
      content: sorted(namespace.content, encodeContentInfo),
      snapshots: sortBytes([...namespace.snapshots.keys()]).map((snapshotter) => ({ snapshotter, records: sorted(namespace.snapshots.get(snapshotter)!, encodeSnapshot) })),
      leases: sorted(namespace.leases, (lease) => ({ ...encodeLease(lease), resources: listLeaseResources(namespace, lease.id) })),
      hasContainerBucket: namespace.hasContainerBucket,
    };
  });
}

async function logEnd(instance: Instance): Promise<number> {
  return (await instance.jsm.streams.info(instance.layout.logStream)).state.last_seq;
}

/** Wait until the log stops growing (a collection may still append) and both views have applied it. */
async function settle(instances: Instance[]): Promise<number> {
  let last = -1;
  for (let round = 0; round < 60; round++) {
    const end = await logEnd(instances[0]!);
    for (const instance of instances) await instance.projection.waitFor(end, 30_000);
    if (end === last) return end;
    last = end;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return last;
}

/**
 * Compare the live view with a view that a fresh instance rebuilds from the log, and
 * every namespace the API lists with the rebuilt records. Errors become problems, so
 * that the counts of a failing run are still reported.
 */
async function compareWithRebuilt(stack: Stack): Promise<{ problems: string[]; notes: string[] }> {
  const problems: string[] = [];
  const notes: string[] = [];
  const rebuilt = await startInstance(stack.nats.url, { gc: false, notify: false, useSnapshot: false, name: "fuzz-rebuild" });
  const compare = (actual: unknown, expected: unknown, subject: string) => {
    try {
      assert.deepEqual(JSON.parse(JSON.stringify(actual)), JSON.parse(JSON.stringify(expected)));
    } catch (error) {
      problems.push(`${subject}: ${(error as Error).message.slice(0, 500)}`);
    }
  };
  try {
    const end = await settle([stack.instance, rebuilt]);
    const fresh = dumpState(rebuilt.projection.state);
    compare(dumpState(stack.instance.projection.state), fresh, "live view against the rebuilt view");
    const listed = await stack.client.list<{ name: string }>("namespaces", "list", {}, "namespaces", { namespace: "" });
    compare(listed.map((item) => item.name), fresh.map((item) => item.name), "listed namespaces");
    for (const expected of fresh) {
      const options = { namespace: expected.name, minRevision: end };
      compare(await stack.client.list<Body>("containers", "list", {}, "containers", options), expected.containers, `containers of ${expected.name}`);
      compare(await stack.client.list<Body>("images", "list", {}, "images", options), expected.images, `images of ${expected.name}`);
      compare(await stack.client.list<Body>("content", "list", {}, "info", options), expected.content, `content of ${expected.name}`);
      const leases = expected.leases.map(({ resources: _resources, ...lease }) => lease);
      compare(await stack.client.list<Body>("leases", "list", {}, "leases", options), leases, `leases of ${expected.name}`);
      for (const snapshotter of SNAPSHOTTERS) {
        const records = expected.snapshots.find((item) => item.snapshotter === snapshotter)?.records ?? [];
        compare(await stack.client.list<Body>("snapshots", "list", { snapshotter }, "info", options), records, `${snapshotter} snapshots of ${expected.name}`);
      }
    }
    notes.push(`state: ${fresh.length} namespaces equal to a rebuild from ${end} events`);
  } catch (error) {
    problems.push(`comparing the state failed: ${(error as Error).message}`);
  } finally {
    await rebuilt.close();
  }
  return { problems, notes };
}

// ---------------------------------------------------------------------------

describe("API under hostile input", () => {
  let stack: Stack;
  const logLines: string[] = [];
  const unhandled: string[] = [];
  const onUnhandled = (reason: unknown) => {
    unhandled.push(reason instanceof Error ? (reason.stack ?? reason.message) : String(reason));
  };

  before(async () => {
    process.on("unhandledRejection", onUnhandled);
    process.on("uncaughtException", onUnhandled);
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logLines.push(chunk.toString("utf8"));
        callback();
      },
    });
    stack = await startStack({ logger: pino({ level: "warn" }, sink), name: "fuzz" });
  });

  after(async () => {
    await stack?.close();
    process.off("unhandledRejection", onUnhandled);
    process.off("uncaughtException", onUnhandled);
  });

  it("answers every hostile request with one typed reply", { timeout: 15 * 60_000 }, async (t: TestContext) => {
    t.diagnostic(`seed ${SEED} (set CTRMETA_FUZZ_SEED=${SEED} to repeat), ${TOTAL_REQUESTS} requests, ${IN_FLIGHT} in flight`);
    const maxPayload = stack.client.nc.info?.max_payload ?? 1024 * 1024;
    const prober = new Prober(stack, `_INBOX.fuzz${SEED}`);
    const run: Run = { maxPayload, failuresByCategory: new Tally(), sent: new Tally(), outcomes: new Tally(), failures: [], unknowns: [] };
    const started = performance.now();

    // Namespaces for the valid scenarios, so that fuzzed requests never touch them.
    for (const namespace of VALID_NAMESPACES) await stack.client.namespaces.create({ name: namespace, labels: {} });

    let sent = 0;
    let nextTask = 0;
    const fuzzBudget = TOTAL_REQUESTS - RAW_REQUESTS;
    const worker = async () => {
      while (sent < fuzzBudget) {
        const index = nextTask++;
        const rng = rngFor(index);
        // A scenario sends about eight requests, hence the smaller chance per task.
        if (rng.chance(VALID_SHARE / 8)) {
          const steps = await runScenario(prober, run, rng, index);
          sent += steps;
          continue;
        }
        const probe = rng.weighted(CATEGORY_TABLE)(rng, maxPayload);
        sent++;
        judge(run, probe, await prober.send(probe), index);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    const port = Number(new URL(stack.nats.url.replace(/^nats:/, "http:")).port);
    const rawNotes = await runRaw(port, run, maxPayload);
    await prober.close();
    const seconds = (performance.now() - started) / 1000;

    const consistency = await compareWithRebuilt(stack);

    const total = [...run.sent.counts.values()].reduce((sum, count) => sum + count, 0);
    t.diagnostic(`${total} requests in ${seconds.toFixed(1)} s (${Math.round(total / seconds)}/s)`);
    for (const line of run.sent.lines()) t.diagnostic(`sent ${line}`);
    for (const line of run.outcomes.lines()) t.diagnostic(`outcome ${line}`);
    for (const note of rawNotes) t.diagnostic(note);
    const unexpected = logLines.filter((line) => line.includes("request failed unexpectedly"));
    t.diagnostic(`service log: ${logLines.length} warnings or errors, ${unexpected.length} "request failed unexpectedly"`);
    for (const line of logLines.slice(0, 5)) t.diagnostic(`log: ${line.slice(0, 300)}`);
    for (const unknown of run.unknowns.slice(0, 20)) t.diagnostic(`Unknown: ${unknown}`);
    for (const note of consistency.notes) t.diagnostic(note);
    for (const line of run.failuresByCategory.lines()) t.diagnostic(`failed ${line}`);
    for (const failure of run.failures.slice(0, 40)) t.diagnostic(`failure: ${failure.slice(0, 300)}`);

    assert.ok(total >= TOTAL_REQUESTS, `only ${total} requests were sent`);
    assert.deepEqual(unhandled, [], "unhandled rejections or exceptions in the process");
    assert.deepEqual(prober.extraReplies, [], "requests answered more than once");
    assert.deepEqual(run.unknowns, [], "bad input answered with Unknown");
    assert.deepEqual(run.failures, [], `failures (seed ${SEED})`);
    assert.deepEqual(consistency.problems, [], "the state differs from a rebuild from the log");
    const valid = run.sent.get("valid");
    assert.ok(valid >= total * 0.05, `only ${valid} valid requests`);
  });

  it("refuses a request id reused by another method or namespace", async () => {
    const requestId = `reused-${SEED}`;
    await stack.client.call("leases", "create", { id: "reused-lease" }, { requestId, namespace: "fuzz-a" });
    const container = { id: "reused-ctr", runtime: { name: "r" }, spec: { typeUrl: SPEC_TYPE, value: SPEC_VALUE } };
    await assert.rejects(stack.client.call("containers", "create", { container }, { requestId, namespace: "fuzz-a" }), (error: MetadataError) => {
      assert.equal(error.kind, "InvalidArgument");
      assert.match(error.message, /Ctrmeta-Request-Id "reused-\d+" was already used by another request \(event \d+, lease.created in namespace "fuzz-a"\)/);
      return true;
    });
    await assert.rejects(stack.client.call("leases", "create", { id: "reused-lease" }, { requestId, namespace: "fuzz-b" }), { kind: "InvalidArgument" });
    // The same request again is a retry and gets the first attempt's result.
    const retry = await stack.client.call("leases", "create", { id: "reused-lease" }, { requestId, namespace: "fuzz-a" });
    assert.equal((retry.body.lease as { id: string }).id, "reused-lease");
  });
});
