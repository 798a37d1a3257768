/**
 * A view counts a log message delivered again at a sequence it applied when the
 * message's subject has no event that recent in the view, because then the log
 * changed under the view.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { containerRecord } from "../../bench/lib/log-writer.js";
import { ENVELOPE_VERSION, encodeEnvelope } from "../../src/events/codec.js";
import { EVENT_VERSIONS } from "../../src/events/upcast.js";
import { Projection } from "../../src/projections/projection.js";

function created(id: string, requestId: string): Uint8Array {
  const container = containerRecord(id, 0);
  return encodeEnvelope({
    v: ENVELOPE_VERSION,
    ev: EVENT_VERSIONS["container.created"],
    ns: "default",
    time: container.createdAt,
    req: requestId,
    event: { type: "container.created", container },
  });
}

test("redelivery on the same subject", () => {
  const projection = new Projection();
  const data = created("a", "r-1");
  assert.ok(projection.apply(1, "p.log.ctr.default.a", data));
  // An ordered consumer that starts again delivers the event once more.
  assert.equal(projection.apply(1, "p.log.ctr.default.a", data), undefined);
  assert.equal(projection.divergences, 0);
});

test("redelivery of an older sequence", () => {
  const projection = new Projection();
  projection.apply(1, "p.log.ctr.default.a", created("a", "r-1"));
  projection.apply(2, "p.log.ctr.default.b", created("b", "r-2"));
  projection.apply(3, "p.log.ctr.default.a", created("a", "r-3"));
  // An ordered consumer that starts again may deliver from an older sequence.
  assert.equal(projection.apply(1, "p.log.ctr.default.a", created("a", "r-1")), undefined);
  assert.equal(projection.apply(2, "p.log.ctr.default.b", created("b", "r-2")), undefined);
  assert.equal(projection.divergences, 0);
});

test("another subject at an applied sequence", () => {
  const projection = new Projection();
  projection.apply(1, "p.log.ctr.default.a", created("a", "r-1"));
  projection.apply(2, "p.log.ctr.default.b", created("b", "r-2"));
  // The log now has another request's event at sequence 2.
  assert.equal(projection.apply(2, "p.log.ctr.default.c", created("c", "r-other")), undefined);
  assert.equal(projection.divergences, 1);
  assert.equal(projection.state.namespaces.get("default")!.containers.has("c"), false);
});
