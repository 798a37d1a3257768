import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { initialTransition, transition, type SnapshotFrom } from "xstate";

import {
  DEFAULT_SCHEDULER_CONFIG,
  gcScheduler,
  normalizeConfig,
  type SchedulerConfig,
  type SchedulerEvent,
} from "../../src/gc/scheduler.js";

type Snapshot = SnapshotFrom<typeof gcScheduler>;

const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

/** Start the machine at `now` (epoch ms). */
function start(config: Partial<SchedulerConfig> = {}, now = T0): Snapshot {
  const [snapshot] = initialTransition(gcScheduler, { config, now });
  return snapshot;
}

/** Apply the events in order and return the final snapshot. */
function send(snapshot: Snapshot, ...events: SchedulerEvent[]): Snapshot {
  let current = snapshot;
  for (const event of events) [current] = transition(gcScheduler, current, event);
  return current;
}

function mutation(seq: number, now: number): SchedulerEvent {
  return { type: "mutation", dirty: false, seq, now };
}

function deletion(seq: number, now: number): SchedulerEvent {
  return { type: "mutation", dirty: true, seq, now };
}

function trigger(now: number): SchedulerEvent {
  return { type: "trigger", now };
}

function tick(now: number): SchedulerEvent {
  return { type: "tick", now };
}

function started(viewSeq: number): SchedulerEvent {
  return { type: "started", viewSeq };
}

function collected(now: number, durationMs: number): SchedulerEvent {
  return { type: "collected", now, durationMs };
}

function failed(now: number): SchedulerEvent {
  return { type: "failed", now };
}

/** Send `tick` at the armed time, as the driver's timer would. */
function tickWhenDue(snapshot: Snapshot): Snapshot {
  const at = snapshot.context.nextAt;
  if (at === undefined) throw new Error("no tick is armed");
  return send(snapshot, tick(at));
}

/** Run one successful collection, triggered and ticked at `now`, of a view at `viewSeq`. */
function collectOnTrigger(snapshot: Snapshot, now: number, durationMs: number, viewSeq: number): Snapshot {
  return send(snapshot, trigger(now), tick(now), started(viewSeq), collected(now + durationMs, durationMs));
}

const FIRST_END = T0 + 110;
const FIRST_INTERVAL = 490;
const FIRST_NEXT = FIRST_END + FIRST_INTERVAL;
const FIRST_VIEW = 5;

/**
 * Return the state after the startup collection. The tick at T0+100 collects a
 * view at seq 5 in 10 ms, which ends at T0+110. With the default pause threshold
 * of 0.02, the next tick is armed 490 ms later at T0+600.
 */
function afterFirstCollection(config: Partial<SchedulerConfig> = {}): Snapshot {
  const booted = start({ ...config, startupDelayMs: 100 });
  return send(tickWhenDue(booted), started(FIRST_VIEW), collected(FIRST_END, 10));
}

describe("normalizeConfig", () => {
  test("fills every default", () => {
    assert.deepEqual(normalizeConfig({}), {
      pauseThreshold: 0.02,
      deletionThreshold: 0,
      mutationThreshold: 100,
      scheduleDelayMs: 0,
      startupDelayMs: 100,
    });
  });

  test("defaults match exported constant", () => {
    assert.deepEqual(normalizeConfig({}), DEFAULT_SCHEDULER_CONFIG);
  });

  const cases: Array<[keyof SchedulerConfig, number, number]> = [
    ["pauseThreshold", -0.1, 0],
    ["pauseThreshold", 0.9, 0.5],
    ["pauseThreshold", 0.3, 0.3],
    ["mutationThreshold", -5, 0],
    ["mutationThreshold", 7, 7],
    ["scheduleDelayMs", -10, 0],
    ["startupDelayMs", -1, 0],
    ["deletionThreshold", -3, -3],
  ];
  for (const [key, input, expected] of cases) {
    test(`${key} ${input} becomes ${expected}`, () => {
      assert.equal(normalizeConfig({ [key]: input })[key], expected);
    });
  }

  test("machine stores normalized config", () => {
    assert.equal(start({ pauseThreshold: 2 }).context.config.pauseThreshold, 0.5);
  });
});

describe("startup", () => {
  test("starts waiting with counters clear", () => {
    const { value, context } = start();
    assert.equal(value, "waiting");
    assert.equal(context.intervalMs, 1000);
    assert.equal(context.deletions, 0);
    assert.equal(context.mutations, 0);
    assert.equal(context.triggered, false);
    assert.equal(context.lastAt, undefined);
    assert.equal(context.collections, 0);
  });

  const cases: Array<[string, Partial<SchedulerConfig>, number | undefined]> = [
    ["default delay arms T0+100", {}, T0 + 100],
    ["250 ms delay arms T0+250", { startupDelayMs: 250 }, T0 + 250],
    ["zero delay arms nothing", { startupDelayMs: 0 }, undefined],
    ["negative delay arms nothing", { startupDelayMs: -5 }, undefined],
  ];
  for (const [name, config, expected] of cases) {
    test(`startup ${name}`, () => {
      assert.equal(start(config).context.nextAt, expected);
    });
  }

  test("startup tick collects with nothing counted", () => {
    const due = tickWhenDue(start());
    assert.equal(due.value, "collecting");
    assert.equal(due.context.nextAt, undefined);
  });
});

describe("before the first collection", () => {
  for (const scheduleDelayMs of [0, 50]) {
    test(`first deletion schedules after ${scheduleDelayMs} ms`, () => {
      const snapshot = send(start({ startupDelayMs: 0, scheduleDelayMs }), deletion(1, T0 + 7));
      assert.equal(snapshot.context.nextAt, T0 + 7 + scheduleDelayMs);
      assert.equal(snapshot.context.deletions, 1);
    });
  }

  test("first plain mutation arms nothing", () => {
    const snapshot = send(start({ startupDelayMs: 0 }), mutation(1, T0 + 7));
    assert.equal(snapshot.context.nextAt, undefined);
    assert.equal(snapshot.context.mutations, 1);
    assert.equal(snapshot.context.deletions, 0);
  });

  test("mutation threshold schedules first collection", () => {
    const initial = start({ startupDelayMs: 0, mutationThreshold: 3, scheduleDelayMs: 20 });
    const belowThreshold = send(initial, mutation(1, T0 + 10), mutation(2, T0 + 20));
    assert.equal(belowThreshold.context.nextAt, undefined);

    const atThreshold = send(belowThreshold, mutation(3, T0 + 30));
    assert.equal(atThreshold.context.nextAt, T0 + 50);
  });

  test("mutation threshold zero never schedules", () => {
    let snapshot = start({ startupDelayMs: 0, mutationThreshold: 0 });
    for (let seq = 1; seq <= 200; seq++) snapshot = send(snapshot, mutation(seq, T0 + seq));
    assert.equal(snapshot.context.mutations, 200);
    assert.equal(snapshot.context.nextAt, undefined);
  });

  test("deletion keeps armed startup tick", () => {
    const snapshot = send(start({ startupDelayMs: 100 }), deletion(1, T0 + 10));
    assert.equal(snapshot.context.nextAt, T0 + 100);
  });

  test("negative deletion threshold ignores deletions", () => {
    const initial = start({ startupDelayMs: 0, deletionThreshold: -1 });
    const snapshot = send(initial, deletion(1, T0 + 1), deletion(2, T0 + 2), deletion(3, T0 + 3));
    assert.equal(snapshot.context.deletions, 3);
    assert.equal(snapshot.context.nextAt, undefined);
  });

  // TestDeletionThreshold in containerd v1.7.9 gc/scheduler/scheduler_test.go:
  // with the mutation threshold off, the fifth deletion schedules the
  // collection and no earlier one does.
  test("fifth deletion reaches threshold five", () => {
    let snapshot = start({ pauseThreshold: 0.001, deletionThreshold: 5, mutationThreshold: 0, startupDelayMs: 0 });
    for (let seq = 1; seq <= 4; seq++) {
      snapshot = send(snapshot, deletion(seq, T0 + seq));
      assert.equal(snapshot.context.nextAt, undefined, `armed after deletion ${seq}`);
    }

    snapshot = send(snapshot, deletion(5, T0 + 5));
    assert.equal(snapshot.context.nextAt, T0 + 5);
    assert.equal(tickWhenDue(snapshot).value, "collecting");
  });
});

describe("after the first collection", () => {
  test("first collection arms interval tick", () => {
    const { context } = afterFirstCollection();
    assert.equal(context.lastAt, FIRST_END);
    assert.equal(context.intervalMs, FIRST_INTERVAL);
    assert.equal(context.nextAt, FIRST_NEXT);
  });

  test("plain deletion waits for armed tick", () => {
    const deleted = send(afterFirstCollection(), deletion(6, T0 + 200));
    assert.equal(deleted.context.nextAt, FIRST_NEXT);
    assert.equal(tickWhenDue(deleted).value, "collecting");
  });

  for (const scheduleDelayMs of [0, 20]) {
    test(`deletion threshold schedules after ${scheduleDelayMs} ms`, () => {
      const ready = afterFirstCollection({ deletionThreshold: 3, scheduleDelayMs });
      const belowThreshold = send(ready, deletion(6, T0 + 200), deletion(7, T0 + 201));
      assert.equal(belowThreshold.context.nextAt, FIRST_NEXT);

      const atThreshold = send(belowThreshold, deletion(8, T0 + 202));
      assert.equal(atThreshold.context.nextAt, T0 + 202 + scheduleDelayMs);
    });
  }

  test("deletion threshold keeps earlier tick", () => {
    const ready = afterFirstCollection({ deletionThreshold: 1, scheduleDelayMs: 1000 });
    assert.equal(send(ready, deletion(6, T0 + 200)).context.nextAt, FIRST_NEXT);
  });

  test("mutation threshold waits for tick", () => {
    const ready = afterFirstCollection({ mutationThreshold: 3 });
    const counted = send(ready, mutation(6, T0 + 200), mutation(7, T0 + 201), mutation(8, T0 + 202));
    assert.equal(counted.context.nextAt, FIRST_NEXT);
    assert.equal(tickWhenDue(counted).value, "collecting");
  });

  const tickCases: Array<[string, Partial<SchedulerConfig>, SchedulerEvent[], "waiting" | "collecting"]> = [
    ["nothing counted", {}, [], "waiting"],
    ["mutations under threshold", { mutationThreshold: 3 }, [mutation(6, T0 + 200), mutation(7, T0 + 201)], "waiting"],
    ["mutation threshold zero", { mutationThreshold: 0 }, [mutation(6, T0 + 200), mutation(7, T0 + 201)], "waiting"],
    ["mutations at threshold", { mutationThreshold: 2 }, [mutation(6, T0 + 200), mutation(7, T0 + 201)], "collecting"],
    ["one deletion", {}, [deletion(6, T0 + 200)], "collecting"],
    ["a trigger", {}, [trigger(T0 + 200)], "collecting"],
  ];
  for (const [name, config, events, expected] of tickCases) {
    test(`tick after ${name} ends ${expected}`, () => {
      assert.equal(tickWhenDue(send(afterFirstCollection(config), ...events)).value, expected);
    });
  }

  test("skipped tick rearms from tick time", () => {
    const late = FIRST_NEXT + 30;
    const skipped = send(afterFirstCollection(), tick(late));
    assert.equal(skipped.value, "waiting");
    assert.equal(skipped.context.nextAt, late + FIRST_INTERVAL);
  });

  test("skipped tick keeps counted mutations", () => {
    const ready = afterFirstCollection({ mutationThreshold: 3 });
    const skipped = tickWhenDue(send(ready, mutation(6, T0 + 200), mutation(7, T0 + 201)));
    assert.equal(skipped.context.mutations, 2);

    const atThreshold = send(skipped, mutation(8, FIRST_NEXT + 10));
    assert.equal(atThreshold.context.nextAt, FIRST_NEXT + FIRST_INTERVAL);
    assert.equal(tickWhenDue(atThreshold).value, "collecting");
  });
});

describe("trigger", () => {
  test("trigger arms tick when none armed", () => {
    const snapshot = send(start({ startupDelayMs: 0, scheduleDelayMs: 25 }), trigger(T0 + 5));
    assert.equal(snapshot.context.nextAt, T0 + 30);
    assert.equal(snapshot.context.triggered, true);
  });

  // The tick is armed at T0+600 and the trigger arrives at T0+200.
  const cases: Array<[number, number]> = [
    [0, T0 + 200],
    [100, T0 + 300],
    [400, T0 + 600],
    [1000, T0 + 600],
  ];
  for (const [scheduleDelayMs, expected] of cases) {
    test(`trigger with ${scheduleDelayMs} ms delay arms T0+${expected - T0}`, () => {
      const ready = afterFirstCollection({ scheduleDelayMs });
      assert.equal(send(ready, trigger(T0 + 200)).context.nextAt, expected);
    });
  }

  // TestTrigger in containerd's scheduler_test.go: with every setting zero, a
  // trigger alone runs exactly one collection.
  test("trigger alone runs one collection", () => {
    const zero: SchedulerConfig = {
      pauseThreshold: 0,
      deletionThreshold: 0,
      mutationThreshold: 0,
      scheduleDelayMs: 0,
      startupDelayMs: 0,
    };
    const due = send(start(zero), trigger(T0));
    assert.equal(due.context.nextAt, T0);

    const done = send(tickWhenDue(due), started(0), collected(T0 + 10, 10));
    assert.equal(done.context.collections, 1);
    assert.equal(done.context.intervalMs, 1000);
    assert.equal(done.context.nextAt, T0 + 1010);

    const afterNextTick = tickWhenDue(done);
    assert.equal(afterNextTick.value, "waiting");
    assert.equal(afterNextTick.context.collections, 1);
  });
});

describe("interval", () => {
  const cases: Array<[number[], number, number]> = [
    [[10], 0.02, 490],
    [[10, 30], 0.02, 980],
    [[40], 0.1, 360],
    [[10], 0.5, 10],
    [[10], 0, 1000],
    [[10, 30], 0, 1000],
  ];
  for (const [durations, pauseThreshold, expected] of cases) {
    test(`durations ${durations.join("+")} at ${pauseThreshold} give ${expected} ms`, () => {
      let snapshot = start({ pauseThreshold, startupDelayMs: 0 });
      let now = T0;
      for (const [index, durationMs] of durations.entries()) {
        snapshot = collectOnTrigger(snapshot, now, durationMs, index);
        now += 5000;
      }
      assert.equal(snapshot.context.intervalMs, expected);
    });
  }

  test("success arms next tick after interval", () => {
    const done = collectOnTrigger(start({ startupDelayMs: 0 }), T0, 10, 0);
    assert.equal(done.context.lastAt, T0 + 10);
    assert.equal(done.context.nextAt, T0 + 10 + 490);
  });

  // TestPauseThreshold in containerd's scheduler_test.go expects at most 4
  // collections here. Collections of 0.1 ms at 0.02 leave a 4.9 ms interval, so
  // deletions every 0.1 ms for 15 ms cause exactly 3.
  test("pause threshold spaces collections", () => {
    let snapshot = start({ pauseThreshold: 0.02, mutationThreshold: 0, startupDelayMs: 0 }, 0);
    let since = 0;
    for (let step = 0; step <= 150; step++) {
      const now = step / 10;
      if (snapshot.value === "collecting" && now - since >= 0.1) snapshot = send(snapshot, collected(now, 0.1));
      const due = snapshot.context.nextAt;
      if (snapshot.value === "waiting" && due !== undefined && due <= now) {
        snapshot = send(snapshot, tick(now), started(step));
        since = now;
      }
      snapshot = send(snapshot, deletion(step + 1, now));
    }
    assert.equal(snapshot.context.collections, 3);
  });
});

describe("success", () => {
  function collectAfterActivity(): Snapshot {
    const active = send(afterFirstCollection(), deletion(6, T0 + 200), mutation(7, T0 + 210), trigger(T0 + 220));
    return send(tickWhenDue(active), started(7), collected(T0 + 230, 10));
  }

  test("success clears counters and trigger", () => {
    const { context } = collectAfterActivity();
    assert.equal(context.deletions, 0);
    assert.equal(context.mutations, 0);
    assert.equal(context.triggered, false);
    assert.equal(context.collections, 2);
  });

  test("success covers the collected view", () => {
    assert.equal(collectAfterActivity().context.coveredSeq, 7);
  });

  test("covered mutations are ignored", () => {
    const done = collectAfterActivity();
    const covered = send(done, deletion(6, T0 + 300), mutation(7, T0 + 301));
    assert.equal(covered.context.deletions, 0);
    assert.equal(covered.context.mutations, 0);

    const fresh = send(covered, deletion(8, T0 + 302));
    assert.equal(fresh.context.deletions, 1);
  });

  test("covered deletion schedules nothing", () => {
    const ready = afterFirstCollection({ deletionThreshold: 1, scheduleDelayMs: 0 });
    assert.equal(send(ready, deletion(FIRST_VIEW, T0 + 200)).context.nextAt, FIRST_NEXT);
  });

  test("collected while waiting is ignored", () => {
    const ready = afterFirstCollection();
    assert.deepEqual(send(ready, collected(T0 + 200, 10)).context, ready.context);
  });
});

describe("failure", () => {
  // Deletion and mutation counted, then the tick at T0+600 collects and the
  // collection fails at T0+640.
  const FAILED_AT = FIRST_NEXT + 40;

  function failAfterActivity(config: Partial<SchedulerConfig> = {}, extra: SchedulerEvent[] = []): Snapshot {
    const active = send(afterFirstCollection(config), deletion(6, T0 + 200), mutation(7, T0 + 210), ...extra);
    return send(tickWhenDue(active), started(7), failed(FAILED_AT));
  }

  // containerd measures the gap from the end of the last collection to the time
  // the failed one was due: T0+110 to T0+600 is 490 ms.
  test("failure rearms after gap plus one second", () => {
    const snapshot = failAfterActivity();
    assert.equal(snapshot.value, "waiting");
    assert.equal(snapshot.context.nextAt, FAILED_AT + FIRST_INTERVAL + 1000);
  });

  test("repeated failure adds one more second", () => {
    const first = failAfterActivity();
    const secondDue = FAILED_AT + FIRST_INTERVAL + 1000;
    const second = send(tickWhenDue(first), started(7), failed(secondDue + 20));
    assert.equal(second.context.nextAt, secondDue + 20 + FIRST_INTERVAL + 2000);
  });

  test("failure keeps counters", () => {
    const { context } = failAfterActivity();
    assert.equal(context.deletions, 1);
    assert.equal(context.mutations, 2);
  });

  // The trigger pulls the tick to T0+220, so the gap is 110 ms.
  test("failure keeps trigger without pulling tick", () => {
    const { context } = failAfterActivity({}, [trigger(T0 + 220)]);
    assert.equal(context.triggered, true);
    assert.equal(context.nextAt, FAILED_AT + 110 + 1000);
  });

  test("failure records time but not coverage", () => {
    const { context } = failAfterActivity();
    assert.equal(context.lastAt, FAILED_AT);
    assert.equal(context.failures, 1);
    assert.equal(context.collections, 1);
    assert.equal(context.intervalMs, FIRST_INTERVAL);
    assert.equal(context.coveredSeq, FIRST_VIEW);
  });

  test("tick after failure collects again", () => {
    assert.equal(tickWhenDue(failAfterActivity()).value, "collecting");
  });

  test("failed first collection retries after one second", () => {
    const snapshot = send(tickWhenDue(start()), started(0), failed(T0 + 130));
    assert.equal(snapshot.context.nextAt, T0 + 1130);
  });
});

describe("writes while collecting", () => {
  // The tick at T0+600 collects a view at seq 8, and the collection succeeds
  // at T0+610 (10 ms, so the interval stays 490 ms) or fails at T0+640.
  const VIEW = 8;
  const DONE_AT = FIRST_NEXT + 10;

  function collecting(config: Partial<SchedulerConfig> = {}): Snapshot {
    const deleted = send(afterFirstCollection(config), deletion(6, T0 + 200));
    return send(tickWhenDue(deleted), started(VIEW));
  }

  function succeed(snapshot: Snapshot): Snapshot {
    return send(snapshot, collected(DONE_AT, 10));
  }

  test("mutations after view count next", () => {
    const done = succeed(send(collecting(), deletion(9, T0 + 603), mutation(10, T0 + 604)));
    assert.equal(done.context.deletions, 1);
    assert.equal(done.context.mutations, 2);
  });

  test("mutations up to view are dropped", () => {
    const done = succeed(send(collecting(), deletion(7, T0 + 603), mutation(8, T0 + 604)));
    assert.equal(done.context.deletions, 0);
    assert.equal(done.context.mutations, 0);
  });

  test("writes leave tick unarmed while collecting", () => {
    const busy = send(collecting(), deletion(9, T0 + 603), trigger(T0 + 604));
    assert.equal(busy.value, "collecting");
    assert.equal(busy.context.nextAt, undefined);
  });

  test("tick while collecting is ignored", () => {
    const busy = collecting();
    const ticked = send(busy, tick(T0 + 605));
    assert.equal(ticked.value, "collecting");
    assert.deepEqual(ticked.context, busy.context);
  });

  test("success covers mutations up to view", () => {
    const done = succeed(collecting());
    assert.equal(done.context.coveredSeq, VIEW);
    assert.equal(send(done, deletion(VIEW, T0 + 700)).context.deletions, 0);
    assert.equal(send(done, deletion(VIEW + 1, T0 + 700)).context.deletions, 1);
  });

  // The interval after this collection is 490 ms, so the regular tick is at T0+1100.
  const triggerCases: Array<[number, number]> = [
    [0, DONE_AT],
    [50, DONE_AT + 50],
    [1000, DONE_AT + FIRST_INTERVAL],
  ];
  for (const [scheduleDelayMs, expected] of triggerCases) {
    test(`trigger while collecting with ${scheduleDelayMs} ms delay`, () => {
      const done = succeed(send(collecting({ scheduleDelayMs }), trigger(T0 + 605)));
      assert.equal(done.context.nextAt, expected);
    });
  }

  test("trigger while collecting stays triggered", () => {
    const done = succeed(send(collecting(), trigger(T0 + 605)));
    assert.equal(done.context.triggered, true);
    assert.equal(tickWhenDue(done).value, "collecting");
  });

  test("deletion threshold reached while collecting", () => {
    const busy = send(collecting({ deletionThreshold: 2 }), deletion(9, T0 + 603), deletion(10, T0 + 604));
    assert.equal(succeed(busy).context.nextAt, DONE_AT);
  });

  test("deletion under threshold while collecting", () => {
    const busy = send(collecting({ deletionThreshold: 2 }), deletion(9, T0 + 603));
    assert.equal(succeed(busy).context.nextAt, DONE_AT + FIRST_INTERVAL);
  });

  test("mutation threshold while collecting waits", () => {
    const busy = send(collecting({ mutationThreshold: 2 }), mutation(9, T0 + 603), mutation(10, T0 + 604));
    const done = succeed(busy);
    assert.equal(done.context.nextAt, DONE_AT + FIRST_INTERVAL);
    assert.equal(tickWhenDue(done).value, "collecting");
  });

  test("failure adds mutations after view", () => {
    const busy = send(collecting(), deletion(9, T0 + 603), mutation(10, T0 + 604), mutation(7, T0 + 605));
    const { context } = send(busy, failed(T0 + 640));
    assert.equal(context.deletions, 2);
    assert.equal(context.mutations, 3);
  });

  test("trigger while failing schedules right after", () => {
    const { context } = send(collecting(), trigger(T0 + 605), failed(T0 + 640));
    assert.equal(context.triggered, true);
    assert.equal(context.nextAt, T0 + 640);
  });

  test("deletion threshold while failing schedules right after", () => {
    const busy = send(collecting({ deletionThreshold: 2 }), deletion(9, T0 + 603));
    assert.equal(send(busy, failed(T0 + 640)).context.nextAt, T0 + 640);
  });
});

describe("batched mutations", () => {
  test("batch counts every mutation", () => {
    const snapshot = send(start({ startupDelayMs: 0 }), { type: "mutation", dirty: false, count: 150, deletions: 0, seq: 150, now: T0 });
    assert.equal(snapshot.context.mutations, 150);
    assert.equal(snapshot.context.nextAt, T0, "150 mutations reach the threshold of 100");
  });

  test("batch counts its deletions", () => {
    const snapshot = send(start({ startupDelayMs: 0, deletionThreshold: 5 }), { type: "mutation", dirty: true, count: 9, deletions: 6, seq: 9, now: T0 });
    assert.equal(snapshot.context.deletions, 6);
    assert.equal(snapshot.context.nextAt, T0);
  });
});
