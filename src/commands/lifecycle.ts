/**
 * The lifecycle of one command as a pure state machine:
 *
 *   deciding ──decided──▶ appending ──appended──▶ applying ──applied──▶ done
 *      │  └──no change──▶ done        │                    └─rejected─▶ failed
 *      └──invalid──▶ failed           ├─conflict [attempts left]─▶ catchingUp ─▶ deciding
 *                                     ├─conflict [none left]─────▶ failed
 *                                     └─unavailable──────────────▶ failed
 *
 * The handler runs the effect that belongs to each state and feeds its outcome back
 * with `transition()`; the machine owns the retry policy. No actor is kept per
 * command or aggregate.
 */
import { assign, initialTransition, setup, transition } from "xstate";

export const DEFAULT_MAX_ATTEMPTS = 16;

export type LifecycleEvent =
  | { type: "decided" }
  | { type: "noChange" }
  | { type: "invalid" }
  | { type: "appended" }
  | { type: "conflict" }
  | { type: "unavailable" }
  | { type: "caughtUp" }
  | { type: "applied" }
  | { type: "rejected" };

export interface LifecycleContext {
  /** Appends tried so far, including the current one. */
  attempts: number;
  maxAttempts: number;
  /** Whether the command stopped on a lost race after its last attempt. */
  exhausted: boolean;
}

export const commandLifecycle = setup({
  types: {
    context: {} as LifecycleContext,
    events: {} as LifecycleEvent,
    input: {} as { maxAttempts?: number },
  },
  guards: {
    attemptsLeft: ({ context }) => context.attempts < context.maxAttempts,
  },
  actions: {
    countAttempt: assign({ attempts: ({ context }) => context.attempts + 1 }),
    markExhausted: assign({ exhausted: true }),
  },
}).createMachine({
  id: "command",
  context: ({ input }) => ({ attempts: 1, maxAttempts: input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, exhausted: false }),
  initial: "deciding",
  states: {
    deciding: {
      on: {
        decided: "appending",
        noChange: "done",
        invalid: "failed",
      },
    },
    appending: {
      on: {
        appended: "applying",
        conflict: [
          { guard: "attemptsLeft", target: "catchingUp" },
          { target: "failed", actions: "markExhausted" },
        ],
        unavailable: "failed",
      },
    },
    catchingUp: {
      on: {
        caughtUp: { target: "deciding", actions: "countAttempt" },
        unavailable: "failed",
      },
    },
    applying: {
      on: {
        applied: "done",
        rejected: "failed",
        unavailable: "failed",
      },
    },
    done: { type: "final" },
    failed: { type: "final" },
  },
});

export type LifecycleState = "deciding" | "appending" | "catchingUp" | "applying" | "done" | "failed";

export type LifecycleSnapshot = ReturnType<typeof initialTransition<typeof commandLifecycle>>[0];

/**
 * The lifecycle with its transitions memoised. The context is small and finite
 * (attempts, exhausted), events carry no data, and `transition()` is pure, so
 * each (state, attempts, event) is computed by xstate once and then reused. A
 * transition costs about 20 µs in xstate itself, several per command.
 */
export class Lifecycle {
  readonly initial: LifecycleSnapshot;
  private readonly cache = new Map<string, LifecycleSnapshot>();

  constructor(maxAttempts = DEFAULT_MAX_ATTEMPTS) {
    [this.initial] = initialTransition(commandLifecycle, { maxAttempts });
  }

  next(snapshot: LifecycleSnapshot, event: LifecycleEvent): LifecycleSnapshot {
    const key = `${String(snapshot.value)}|${snapshot.context.attempts}|${snapshot.context.exhausted}|${event.type}`;
    let next = this.cache.get(key);
    if (!next) {
      [next] = transition(commandLifecycle, snapshot, event);
      this.cache.set(key, next);
    }
    return next;
  }
}
