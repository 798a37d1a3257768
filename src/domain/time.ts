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

/** Number of days in a month of the proleptic Gregorian calendar, for `month` from 1 to 12. */
function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Check the ranges of the fields as Go's time.Parse does: `Date.parse` would roll
 * February 30 over into March and accept hour 24, where Go rejects both. Returns
 * the first field out of range, or undefined when all are in range.
 */
function fieldOutOfRange(date: string, clock: string, zone: string): string | undefined {
  const [year, month, day] = date.split("-").map(Number) as [number, number, number];
  const [hour, minute, second] = clock.split(":").map(Number) as [number, number, number];
  if (month < 1 || month > 12) return `month ${month} is out of range`;
  if (day < 1 || day > daysInMonth(year, month)) return `day ${day} is out of range for ${date.slice(0, 7)}`;
  if (hour > 23) return `hour ${hour} is out of range`;
  if (minute > 59) return `minute ${minute} is out of range`;
  if (second > 59) return `second ${second} is out of range`;
  if (zone.length === 6 && (Number(zone.slice(1, 3)) > 23 || Number(zone.slice(4, 6)) > 59)) return `time zone offset ${zone} is out of range`;
  return undefined;
}

/**
 * Return the reason `value` is not an RFC 3339 time (not in its form, or a field
 * out of range), or undefined when it is one.
 */
export function rfc3339Problem(value: string): string | undefined {
  const match = RFC3339.exec(value);
  if (!match) return "not in the form 2006-01-02T15:04:05Z (a fraction and an offset such as +02:00 are optional)";
  const [, date, clock, , zone] = match;
  return fieldOutOfRange(date!, clock!, zone!);
}

/** Parse RFC 3339 (with optional fraction and any offset) into nanoseconds, or undefined. */
export function parseRfc3339(value: string): bigint | undefined {
  const match = RFC3339.exec(value);
  if (!match) return undefined;
  const [, date, clock, fraction = "", zone] = match;
  if (fieldOutOfRange(date!, clock!, zone!) !== undefined) return undefined;
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
