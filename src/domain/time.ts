/**
 * Timestamps are RFC 3339 strings in UTC with exactly nine fraction digits, so that
 * they compare correctly as strings and keep containerd's nanosecond precision.
 */
export type Timestamp = string;

/** Format nanoseconds since the Unix epoch. */
export function formatNanos(nanos: bigint): Timestamp {
  const millis = nanos / 1_000_000n;
  const iso = new Date(Number(millis)).toISOString(); // 2026-12-04T20:11:34.666Z
  const fraction = (((nanos % 1_000_000_000n) + 1_000_000_000n) % 1_000_000_000n).toString().padStart(9, "0");
  return `${iso.slice(0, 19)}.${fraction}Z`;
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$/;

/** Parse RFC 3339 (with optional fraction and any offset) into nanoseconds, or undefined. */
export function parseRfc3339(value: string): bigint | undefined {
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [, date, clock, fraction = "", zone] = match;
  const offset = zone === "Z" || zone === "z" ? "Z" : zone;
  const millis = Date.parse(`${date}T${clock}${offset}`);
  if (Number.isNaN(millis)) return undefined;
  return BigInt(millis) * 1_000_000n + BigInt(fraction.padEnd(9, "0"));
}

/** Normalise any RFC 3339 value to the nine-digit UTC form, or undefined. */
export function normalizeTimestamp(value: string): Timestamp | undefined {
  const nanos = parseRfc3339(value);
  return nanos === undefined ? undefined : formatNanos(nanos);
}

/** A source of timestamps that never repeats or goes backwards within a process. */
export interface Clock {
  now(): Timestamp;
  nowNanos(): bigint;
}

/**
 * Wall-clock milliseconds with the sub-millisecond digits taken from the monotonic
 * clock, clamped so that every value is greater than the previous one.
 */
export class SystemClock implements Clock {
  private last = 0n;

  nowNanos(): bigint {
    let nanos = BigInt(Date.now()) * 1_000_000n + (process.hrtime.bigint() % 1_000_000n);
    if (nanos <= this.last) nanos = this.last + 1n;
    this.last = nanos;
    return nanos;
  }

  now(): Timestamp {
    return formatNanos(this.nowNanos());
  }
}

/**
 * A clock that starts at a given instant and then runs at the speed of real time.
 * The replay runner uses it so that lease expiry is judged as it was when a
 * session was recorded.
 */
export class OffsetClock implements Clock {
  private readonly system = new SystemClock();
  private readonly offset: bigint;

  constructor(start: bigint) {
    this.offset = start - this.system.nowNanos();
  }

  nowNanos(): bigint {
    return this.system.nowNanos() + this.offset;
  }

  now(): Timestamp {
    return formatNanos(this.nowNanos());
  }
}
