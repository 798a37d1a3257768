import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideDeleteContent } from "../../src/domain/content.js";
import { decodeEnvelope, packValue } from "../../src/events/codec.js";
import { EVENT_VERSIONS, FutureEventError, upcast } from "../../src/events/upcast.js";

describe("event upcasting", () => {
  it("container v0 fields are renamed", () => {
    const event = upcast({ type: "container.created", container: { id: "a", snapshot_key: "k", created_at: "t1", updated_at: "t2" } }, 0);
    assert.deepEqual({ ...(event.container as object) }, { id: "a", snapshotKey: "k", createdAt: "t1", updatedAt: "t2" });
  });

  it("image v0 target is renamed", () => {
    const event = upcast({ type: "image.updated", image: { name: "i", target: { media_type: "m", digest: "d" }, created_at: "t" } }, 0);
    const image = event.image as { target: object; createdAt: string };
    assert.deepEqual({ ...image.target }, { mediaType: "m", digest: "d" });
    assert.equal(image.createdAt, "t");
  });

  it("current events pass unchanged", () => {
    const event = { type: "lease.deleted", id: "x" };
    assert.equal(upcast(event, EVENT_VERSIONS["lease.deleted"]), event);
  });

  it("newer versions are refused", () => {
    assert.throws(() => upcast({ type: "lease.deleted", id: "x" }, 2), FutureEventError);
    assert.throws(() => upcast({ type: "lease.renamed" }, 1), FutureEventError);
  });

  it("envelope without ev is version 0", () => {
    const envelope = decodeEnvelope(packValue({ v: 1, ns: "n", time: "t", req: "r", event: { type: "container.deleted", id: "a" } }));
    assert.equal(envelope.ev, 1);
    assert.equal(envelope.event.type, "container.deleted");
  });
});

describe("content delete digest errors", () => {
  it("reports the parse error itself", () => {
    assert.throws(() => decideDeleteContent(undefined, "notadigest", { namespace: "n", now: "t", requestId: "r" }), {
      message: "invalid checksum digest format",
    });
  });
});
