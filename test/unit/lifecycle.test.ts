import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { initialTransition, transition } from "xstate";
import { commandLifecycle, Lifecycle, type LifecycleEvent } from "../../src/commands/lifecycle.js";

function run(events: LifecycleEvent[], maxAttempts = 3) {
  let [snapshot] = initialTransition(commandLifecycle, { maxAttempts });
  const states = [String(snapshot.value)];
  for (const event of events) {
    [snapshot] = transition(commandLifecycle, snapshot, event);
    states.push(String(snapshot.value));
  }
  return { snapshot, states };
}

describe("command lifecycle", () => {
  it("happy path ends done", () => {
    const { snapshot, states } = run([{ type: "decided" }, { type: "appended" }, { type: "applied" }]);
    assert.deepEqual(states, ["deciding", "appending", "applying", "done"]);
    assert.equal(snapshot.status, "done");
  });

  it("no change skips the append", () => {
    assert.deepEqual(run([{ type: "noChange" }]).states, ["deciding", "done"]);
  });

  it("conflict retries after catching up", () => {
    const { snapshot, states } = run([{ type: "decided" }, { type: "conflict" }, { type: "caughtUp" }, { type: "decided" }]);
    assert.deepEqual(states, ["deciding", "appending", "catchingUp", "deciding", "appending"]);
    assert.equal(snapshot.context.attempts, 2);
  });

  it("conflicts stop after max attempts", () => {
    const events: LifecycleEvent[] = [];
    for (let i = 0; i < 3; i++) events.push({ type: "decided" }, { type: "conflict" }, { type: "caughtUp" });
    const { snapshot } = run(events.slice(0, -1));
    assert.equal(snapshot.value, "failed");
    assert.equal(snapshot.context.exhausted, true);
  });

  it("rejected verdict fails without retry", () => {
    assert.deepEqual(run([{ type: "decided" }, { type: "appended" }, { type: "rejected" }]).states.at(-1), "failed");
  });

  it("invalid request fails at once", () => {
    assert.deepEqual(run([{ type: "invalid" }]).states, ["deciding", "failed"]);
  });

  it("memoised lifecycle matches xstate", () => {
    const lifecycle = new Lifecycle(3);
    const events: LifecycleEvent[] = [
      { type: "decided" },
      { type: "conflict" },
      { type: "caughtUp" },
      { type: "decided" },
      { type: "conflict" },
      { type: "caughtUp" },
      { type: "decided" },
      { type: "conflict" },
    ];
    for (let round = 0; round < 2; round++) {
      let snapshot = lifecycle.initial;
      for (const event of events) snapshot = lifecycle.next(snapshot, event);
      const expected = run(events).snapshot;
      assert.equal(snapshot.value, expected.value);
      assert.deepEqual(snapshot.context, expected.context);
    }
  });
});
