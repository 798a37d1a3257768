import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { errors as natsErrors, headers as natsHeaders, type MsgHdrs, type Payload, type PublishOptions } from "@nats-io/nats-core";
import type { ServiceMsg } from "@nats-io/services";
import { JSON_CODEC, MAX_BODY_DEPTH, MSGPACK_CODEC } from "../../src/api/codec.js";
import type { MethodTable, ServiceDeps } from "../../src/api/context.js";
import { encodedSize, limitRecordSize, recordLimit, RECORD_MAX_BYTES, type Commands } from "../../src/api/limits.js";
import { ALL_METHODS, asMetadataError, handleRequest, truncateMessage, type ApiLog } from "../../src/api/service.js";
import { readString, STRING_MAX_BYTES } from "../../src/api/wire.js";
import type { Command, CommandOutcome } from "../../src/commands/handler.js";
import type { Decision } from "../../src/domain/decision.js";
import { InvalidArgument, type MetadataError } from "../../src/domain/errors.js";
import { emptyState } from "../../src/domain/state.js";
import { parseRfc3339, rfc3339Problem, SystemClock } from "../../src/domain/time.js";
import { encodeEnvelope, ENVELOPE_VERSION, packValue } from "../../src/events/codec.js";
import type { MetadataEvent } from "../../src/events/types.js";
import { EVENT_VERSIONS } from "../../src/events/upcast.js";
import { Layout } from "../../src/nats/subjects.js";
import { Projection } from "../../src/projections/projection.js";

const encoder = new TextEncoder();

function rejects(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: MetadataError) => error.kind === "InvalidArgument" && pattern.test(error.message));
}

describe("request bodies", () => {
  it("rejects JSON that is not UTF-8", () => {
    const data = Buffer.concat([encoder.encode('{"id":"'), Buffer.from([0xff, 0xfe]), encoder.encode('"}')]);
    rejects(() => JSON_CODEC.decode(data), /not valid UTF-8/);
  });

  it("rejects JSON nested deeper than the limit", () => {
    const nested = (depth: number) => encoder.encode(`{"a":${"[".repeat(depth - 1)}${"]".repeat(depth - 1)}}`);
    assert.ok(JSON_CODEC.decode(nested(MAX_BODY_DEPTH)));
    rejects(() => JSON_CODEC.decode(nested(MAX_BODY_DEPTH + 1)), /nested deeper than the maximum of 100 levels/);
    rejects(() => JSON_CODEC.decode(nested(200_000)), /nested deeper/);
  });

  it("rejects MessagePack nested deeper than the limit", () => {
    const nested = (depth: number) => Buffer.concat([Buffer.from([0x81, 0xa1, 0x61]), Buffer.alloc(depth - 1, 0x91), Buffer.from([0xc0])]);
    assert.ok(MSGPACK_CODEC.decode(nested(MAX_BODY_DEPTH)));
    rejects(() => MSGPACK_CODEC.decode(nested(MAX_BODY_DEPTH + 1)), /nested deeper/);
    rejects(() => MSGPACK_CODEC.decode(nested(500_000)), /nested deeper/);
  });

  it("rejects lone surrogates in values and keys", () => {
    rejects(() => JSON_CODEC.decode(encoder.encode('{"name":"a\\ud800b"}')), /request body\["name"\]: string contains a lone UTF-16 surrogate/);
    rejects(() => JSON_CODEC.decode(encoder.encode('{"labels":{"\\udfff":"v"}}')), /lone UTF-16 surrogate/);
    assert.deepEqual(JSON_CODEC.decode(encoder.encode('{"name":"\\ud83d\\ude00"}')), Object.assign(Object.create(null), { name: "😀" }));
  });

  it("rejects MessagePack extension types", () => {
    const cases: Array<[string, number[]]> = [
      ["timestamp", [0xd6, 0xff, 0, 0, 0, 1]],
      ["set", [0xd5, 0x73, 0x90, 0x01]],
      ["regexp", [0xd4, 0x78, 0x01]],
      ["error", [0xd4, 0x65, 0x01]],
      ["typed array", [0xd5, 0x74, 0x09, 0x02]],
      ["structured clone", [0xd6, 0x69, 0, 0, 0, 1, 0x90]],
      ["never used", [0xc1]],
    ];
    for (const [name, value] of cases) {
      const data = Buffer.concat([Buffer.from([0x81, 0xa4]), Buffer.from("spec"), Buffer.from(value)]);
      assert.throws(() => MSGPACK_CODEC.decode(data), (error: MetadataError) => error.kind === "InvalidArgument", name);
    }
  });

  it("reads 64-bit MessagePack integers within 2^53", () => {
    const small = Buffer.from([0x81, 0xa4, 0x73, 0x69, 0x7a, 0x65, 0xcf, 0, 0, 0, 0, 0, 0, 0, 5]);
    assert.equal((MSGPACK_CODEC.decode(small) as { size: unknown }).size, 5);
    const huge = Buffer.from([0x81, 0xa4, 0x73, 0x69, 0x7a, 0x65, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    rejects(() => MSGPACK_CODEC.decode(huge), /request body\["size"\]: integer 18446744073709551615 is out of range/);
  });

  it("rejects non-finite numbers", () => {
    rejects(() => JSON_CODEC.decode(encoder.encode('{"size":1e400}')), /number Infinity is out of range/);
  });

  it("rejects MessagePack map keys that are not strings", () => {
    rejects(() => MSGPACK_CODEC.decode(Uint8Array.from([0x81, 0x01, 0xa1, 0x61])), /map key of type number/);
  });

  it("keeps the order of keys", () => {
    const text = '{"ociVersion":"1.1.0","process":{"args":["sh"],"cwd":"/"},"root":{"path":"rootfs"}}';
    assert.equal(JSON.stringify(JSON_CODEC.decode(encoder.encode(text))), text);
    assert.equal(JSON.stringify(MSGPACK_CODEC.decode(packValue(JSON.parse(text)))), text);
  });

  it("keeps __proto__ as a plain key", () => {
    const body = JSON_CODEC.decode(encoder.encode('{"labels":{"__proto__":"x"}}')) as { labels: Record<string, string> };
    assert.deepEqual(Object.keys(body.labels), ["__proto__"]);
    assert.equal(body.labels["__proto__"], "x");
  });
});

describe("string fields", () => {
  it("accepts the maximum size", () => {
    assert.equal(readString({ name: "é".repeat(STRING_MAX_BYTES / 2) }, "name")?.length, STRING_MAX_BYTES / 2);
  });

  it("rejects one byte more, naming field, size and limit", () => {
    rejects(() => readString({ name: `${"é".repeat(STRING_MAX_BYTES / 2)}x` }, "name", "image.name"), /^image\.name: 4097 bytes is longer than the maximum of 4096 bytes/);
  });

  it("does not limit base64 values", () => {
    assert.equal(readString({ v: "A".repeat(100_000) }, "v", "v", Number.POSITIVE_INFINITY)?.length, 100_000);
  });
});

describe("RFC 3339 fields", () => {
  it("rejects fields out of range", () => {
    for (const text of ["2024-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T10:60:00Z", "2024-01-01T10:00:60Z", "2024-01-01T10:00:00+24:00"]) {
      assert.equal(parseRfc3339(text), undefined, text);
    }
  });

  it("names the field out of range", () => {
    assert.equal(rfc3339Problem("2024-02-30T00:00:00Z"), "day 30 is out of range for 2024-02");
    assert.equal(rfc3339Problem("2024-13-01T00:00:00Z"), "month 13 is out of range");
    assert.equal(rfc3339Problem("2024-01-01T24:00:00Z"), "hour 24 is out of range");
    assert.equal(rfc3339Problem("2024-01-01T10:60:00Z"), "minute 60 is out of range");
    assert.equal(rfc3339Problem("2024-01-01T10:00:60Z"), "second 60 is out of range");
    assert.equal(rfc3339Problem("2024-01-01T10:00:00+24:00"), "time zone offset +24:00 is out of range");
    assert.match(rfc3339Problem("yesterday")!, /^not in the form 2006-01-02T15:04:05Z/);
    assert.equal(rfc3339Problem("2024-02-29T23:59:59.5+01:00"), undefined);
  });

  it("accepts valid edge values", () => {
    assert.equal(parseRfc3339("2024-02-29T23:59:59.999999999Z"), 1709251199999999999n);
    assert.equal(parseRfc3339("2000-02-29T00:00:00+23:59"), BigInt(Date.parse("2000-02-29T00:00:00+23:59")) * 1_000_000n);
    assert.ok(parseRfc3339("0000-01-01T00:00:00Z") !== undefined);
  });
});

describe("record size limit", () => {
  const container = (labels: Record<string, string>) => ({
    id: "big",
    labels,
    image: "",
    runtime: { name: "r" },
    snapshotter: "",
    snapshotKey: "",
    extensions: {},
    sandbox: "",
    createdAt: "t",
    updatedAt: "t",
  });
  const decision = (labels: Record<string, string>): Decision<void> => ({ event: { type: "container.created", container: container(labels) }, result: undefined });

  it("depends on the max payload", () => {
    assert.equal(recordLimit(1024 * 1024), RECORD_MAX_BYTES);
    assert.equal(recordLimit(256 * 1024), 128 * 1024);
  });

  it("passes a record within the limit", () => {
    assert.ok(limitRecordSize(decision({ a: "x".repeat(4000) }), RECORD_MAX_BYTES));
  });

  it("counts the larger of the JSON and MessagePack encodings", () => {
    // A NUL is 6 bytes in JSON and 1 in MessagePack.
    assert.ok(encodedSize({ v: "\u0000".repeat(1000) }) >= 6000);
    assert.ok(encodedSize({ v: [0.5, 0.25, 0.125] }) >= 27);
  });

  it("rejects a larger record, naming it, its size and the limit", () => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < 200; i++) labels[`k${i}`] = "\u0000".repeat(4000);
    assert.throws(
      () => limitRecordSize(decision(labels), RECORD_MAX_BYTES),
      (error: MetadataError) => error.kind === "InvalidArgument" && /^container "big": the record would encode to \d+ bytes, above the maximum of 524288 bytes/.test(error.message),
    );
  });
});

/** A request as the services framework delivers it, recording what is sent back. */
class FakeMsg implements ServiceMsg {
  readonly sid = 1;
  readonly reply = "_INBOX.test";
  readonly replies: Array<{ data: Uint8Array; headers: MsgHdrs | undefined }> = [];

  constructor(
    readonly subject: string,
    readonly data: Uint8Array,
    private readonly readHeaders: () => MsgHdrs | undefined,
    private readonly maxPayload = 1024 * 1024,
  ) {}

  get headers(): MsgHdrs | undefined {
    return this.readHeaders();
  }

  respond(payload?: Payload, options?: PublishOptions): boolean {
    const data = typeof payload === "string" ? encoder.encode(payload) : (payload ?? new Uint8Array());
    // nats.js refuses to publish above the server's max payload.
    if (data.length + (options?.headers?.toString().length ?? 0) > this.maxPayload) throw new natsErrors.InvalidArgumentError("'payload' max_payload size exceeded");
    this.replies.push({ data, headers: options?.headers });
    return true;
  }

  respondError(code: number, description: string, data?: Payload, options?: PublishOptions): boolean {
    const headers = options?.headers ?? natsHeaders();
    headers.set("Nats-Service-Error-Code", String(code));
    headers.set("Nats-Service-Error", description);
    return this.respond(data, { ...options, headers });
  }

  json<T>(): T {
    return JSON.parse(this.string()) as T;
  }

  string(): string {
    return new TextDecoder().decode(this.data);
  }
}

const layout = new Layout();
const silentLog: ApiLog = { error: () => undefined, warn: () => undefined, debug: () => undefined };

/** Commands that decide on an empty state and never append. */
const dryCommands: Commands = {
  async execute<R>(command: Command<R>): Promise<CommandOutcome<R>> {
    const decision = command.decide(emptyState(), { namespace: command.namespace, now: "2026-01-01T00:00:00.000000000Z", requestId: command.requestId });
    return { result: decision.result, revision: 1 };
  },
};

/** Build a view containing lease `l` with one content resource in namespace `default`. */
function viewWithLease(): Projection {
  const projection = new Projection();
  const events: MetadataEvent[] = [
    { type: "lease.created", lease: { id: "l", labels: {}, createdAt: "2026-01-01T00:00:00.000000000Z" } },
    { type: "lease.resource.added", id: "l", resource: { type: "content", id: `sha256:${"a".repeat(64)}` } },
  ];
  events.forEach((event, index) => {
    const envelope = { v: ENVELOPE_VERSION, ev: EVENT_VERSIONS[event.type], ns: "default", time: "2026-01-01T00:00:00.000000000Z", req: `r${index}`, event };
    projection.apply(index + 1, layout.aggregateSubject("default", { kind: "lease", key: "l" }), encodeEnvelope(envelope));
  });
  return projection;
}

function deps(): ServiceDeps {
  return { commands: dryCommands, projection: viewWithLease(), snapshotters: new Set(["overlayfs"]), clock: new SystemClock() };
}

async function send(
  service: string,
  method: string,
  body: unknown,
  headerValues: Record<string, string> = {},
  options: { methods?: MethodTable; maxPayload?: number; readHeaders?: () => MsgHdrs | undefined } = {},
): Promise<{ kind: string; message: string; replies: FakeMsg["replies"] }> {
  const headers = natsHeaders();
  for (const [name, value] of Object.entries(headerValues)) headers.set(name, value);
  const msg = new FakeMsg(layout.apiSubject("default", service, method), encoder.encode(JSON.stringify(body)), options.readHeaders ?? (() => headers), options.maxPayload);
  await handleRequest(layout, deps(), silentLog, options.methods ?? ALL_METHODS, service, method, msg, options.maxPayload);
  const reply = msg.replies[0]!;
  const kind = reply.headers?.get("Ctrmeta-Error-Kind") || "ok";
  const parsed = JSON.parse(new TextDecoder().decode(reply.data)) as { error?: { message: string } };
  return { kind, message: parsed.error?.message ?? "", replies: msg.replies };
}

describe("request handling", () => {
  it("answers with one reply", async () => {
    assert.equal((await send("containers", "list", {})).replies.length, 1);
    assert.equal((await send("containers", "get", { id: "missing" })).replies.length, 1);
  });

  it("answers headers nats.js cannot parse with InvalidArgument", async () => {
    const reply = await send("containers", "list", {}, {}, {
      readHeaders: () => {
        throw new natsErrors.InvalidArgumentError("'header' ' ' is not a valid character in a header name");
      },
    });
    assert.equal(reply.kind, "InvalidArgument");
    assert.match(reply.message, /^request headers cannot be parsed: /);
  });

  it("accepts only decimal revisions and waits", async () => {
    for (const value of ["1e3", "0x10", "1.5", "+5", "99999999999999999999"]) {
      const reply = await send("containers", "list", {}, { "Ctrmeta-Min-Revision": value });
      assert.equal(reply.kind, "InvalidArgument", value);
    }
    for (const value of ["1e3", "0x10", "60001"]) {
      const reply = await send("containers", "list", {}, { "Ctrmeta-Min-Revision": "0", "Ctrmeta-Wait-Ms": value });
      assert.equal(reply.kind, "InvalidArgument", value);
    }
    assert.equal((await send("containers", "list", {}, { "Ctrmeta-Min-Revision": "0", "Ctrmeta-Wait-Ms": "10" })).kind, "ok");
  });

  it("rejects a request id above the limit", async () => {
    const reply = await send("containers", "list", {}, { "Ctrmeta-Request-Id": "r".repeat(257) });
    assert.equal(reply.kind, "InvalidArgument");
    assert.match(reply.message, /^Ctrmeta-Request-Id: 257 bytes is longer than the maximum of 256 bytes/);
  });

  it("rejects a lease header above the limit", async () => {
    const reply = await send("containers", "list", {}, { "containerd-lease": "l".repeat(4097) });
    assert.equal(reply.kind, "InvalidArgument");
  });

  it("answers a reply above the max payload with InvalidArgument", async () => {
    const methods: MethodTable = { test: { big: () => ({ body: { data: "x".repeat(200_000) } }) } };
    const reply = await send("test", "big", {}, {}, { methods, maxPayload: 100_000 });
    assert.equal(reply.kind, "InvalidArgument");
    assert.match(reply.message, /^the reply would be \d+ bytes, above the server's max payload of 100000 bytes/);
  });

  it("cuts long error messages", async () => {
    const methods: MethodTable = {
      test: {
        fail: () => {
          throw new InvalidArgument(`cannot update ${"\u0001".repeat(900_000)}`);
        },
      },
    };
    const reply = await send("test", "fail", {}, {}, { methods });
    assert.equal(reply.kind, "InvalidArgument");
    assert.ok(reply.message.length <= 16 * 1024, `${reply.message.length} characters`);
    assert.ok(reply.message.endsWith("..."));
  });

  it("rejects a create whose record exceeds the limit", async () => {
    const labels: Record<string, string> = {};
    for (let i = 0; i < 150; i++) labels[`k${i}`] = "v".repeat(4000);
    const spec = { typeUrl: "t", value: {} };
    const reply = await send("containers", "create", { container: { id: "big", runtime: { name: "r" }, spec, labels } });
    assert.equal(reply.kind, "InvalidArgument");
    assert.match(reply.message, /^container "big": the record would encode to \d+ bytes, above the maximum of 524288 bytes/);
  });

  it("answers listResources in chunks when asked", async () => {
    const chunked = await send("leases", "listResources", { id: "l" }, { "Ctrmeta-List-Chunks": "true" });
    assert.equal(chunked.replies.length, 2, "one chunk and the empty message that ends the list");
    assert.deepEqual(JSON.parse(new TextDecoder().decode(chunked.replies[0]!.data)), { resources: [{ id: `sha256:${"a".repeat(64)}`, type: "content" }] });
    assert.equal(chunked.replies[1]!.data.length, 0);
    assert.equal(chunked.replies[1]!.headers?.get("Ctrmeta-Chunks"), "1");

    const whole = await send("leases", "listResources", { id: "l" });
    assert.equal(whole.replies.length, 1);
    assert.deepEqual(JSON.parse(new TextDecoder().decode(whole.replies[0]!.data)), { resources: [{ id: `sha256:${"a".repeat(64)}`, type: "content" }] });
  });
});

describe("error kinds", () => {
  it("reports NATS failures as Unavailable", () => {
    assert.equal(asMetadataError(new natsErrors.TimeoutError()).kind, "Unavailable");
    assert.equal(asMetadataError(new natsErrors.ClosedConnectionError()).kind, "Unavailable");
  });

  it("keeps other untyped errors Unknown", () => {
    assert.equal(asMetadataError(new TypeError("x")).kind, "Unknown");
  });

  it("cuts a message without splitting a surrogate pair", () => {
    const cut = truncateMessage(`${"a".repeat(6)}😀${"b".repeat(10)}`, 10);
    assert.equal(cut, "aaaaaa...");
  });
});
