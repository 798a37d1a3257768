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
import { assign, setup } from "xstate";

export const DEFAULT_MAX_ATTEMPTS = 8;

export type LifecycleEvent =
  | { type: "decided" }
  | { type: "noChange" }
  | { type: "invalid" }
  | { type: "appended"; seq: number }
  | { type: "conflict" }
  | { type: "unavailable" }
  | { type: "caughtUp" }
  | { type: "applied" }
  | { type: "rejected" };

export interface LifecycleContext {
  /** Appends tried so far, including the current one. */
  attempts: number;
  maxAttempts: number;
  /** Log sequence of the appended event, once known. */
  seq: number;
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
    recordSeq: assign({ seq: ({ event }) => (event.type === "appended" ? event.seq : 0) }),
    markExhausted: assign({ exhausted: true }),
  },
}).createMachine({
  id: "command",
  context: ({ input }) => ({ attempts: 1, maxAttempts: input.maxAttempts ?? DEFAULT_MAX_ATTEMPTS, seq: 0, exhausted: false }),
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
        appended: { target: "applying", actions: "recordSeq" },
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
