/**
 * Value formats that ctr prints, reproduced so that ctrmeta's tables read the same:
 * sizes and ages from github.com/docker/go-units and containerd's pkg/progress
 * (as vendored by containerd v1.6.20), and Go's time.RFC3339.
 */

const BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"];
const DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];

function scale(size: number, base: number, units: readonly string[]): [number, string] {
  let index = 0;
  while (size >= base && index < units.length - 1) {
    size /= base;
    index++;
  }
  return [size, units[index]!];
}

/**
 * Format `value` with `decimals` digits after the point as Go's %f does. toFixed
 * rounds an exact tie such as 1.25 up, but Go rounds it to the even digit (1.2).
 */
function toFixedHalfEven(value: number, decimals: number): string {
  // A double is exactly halfway between two results only if value * 2^(decimals + 1)
  // is an odd integer. Multiplying by a power of two is exact.
  const halves = value * 2 ** (decimals + 1);
  const isExactTie = Number.isInteger(halves) && halves % 2 === 1;
  if (!isExactTie) return value.toFixed(decimals);
  const factor = 10 ** decimals;
  const lower = Math.floor(value * factor);
  return ((lower % 2 === 0 ? lower : lower + 1) / factor).toFixed(decimals);
}

/** Format a size in binary units with one decimal, e.g. `1.2 KiB`, as ctr's `images ls` does (progress.Bytes). */
export function formatBinarySize(bytes: number): string {
  const [size, unit] = scale(bytes, 1024, BINARY_UNITS);
  return `${toFixedHalfEven(size, 1)} ${unit}`;
}

/** Format a size in decimal units with at most 4 significant digits, e.g. `1.234kB`, as ctr's `content ls` does (units.HumanSize). */
export function formatDecimalSize(bytes: number): string {
  const [size, unit] = scale(bytes, 1000, DECIMAL_UNITS);
  // Go's %.4g: 4 significant digits without trailing zeros. After scaling, size is 0 or in [1, 1000).
  const decimals = size < 1 ? 0 : Math.max(0, 3 - Math.floor(Math.log10(size)));
  return `${Number(toFixedHalfEven(size, decimals))}${unit}`;
}

/** Format an elapsed time in milliseconds as units.HumanDuration does, e.g. `3 minutes`. */
export function formatHumanDuration(elapsedMs: number): string {
  const seconds = Math.trunc(elapsedMs / 1000);
  if (seconds < 1) return "Less than a second";
  if (seconds === 1) return "1 second";
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.trunc(elapsedMs / 60_000);
  if (minutes === 1) return "About a minute";
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.trunc(elapsedMs / 3_600_000 + 0.5);
  if (hours === 1) return "About an hour";
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.trunc(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.trunc(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24 / 30)} months`;
  return `${Math.trunc(Math.trunc(elapsedMs / 3_600_000) / 24 / 365)} years`;
}

function twoDigits(value: number): string {
  return String(value).padStart(2, "0");
}

/**
 * Format a time in the local time zone with whole seconds, as Go's
 * `t.Local().Format(time.RFC3339)`: `2024-05-01T14:03:07+02:00`, or `...Z` in UTC.
 */
export function formatLocalRfc3339(time: Date): string {
  const date = `${time.getFullYear()}-${twoDigits(time.getMonth() + 1)}-${twoDigits(time.getDate())}`;
  const clock = `${twoDigits(time.getHours())}:${twoDigits(time.getMinutes())}:${twoDigits(time.getSeconds())}`;
  const offsetMinutes = -time.getTimezoneOffset();
  if (offsetMinutes === 0) return `${date}T${clock}Z`;
  const sign = offsetMinutes > 0 ? "+" : "-";
  const magnitude = Math.abs(offsetMinutes);
  return `${date}T${clock}${sign}${twoDigits(Math.trunc(magnitude / 60))}:${twoDigits(magnitude % 60)}`;
}

/** Format a time in UTC with whole seconds, e.g. `2024-05-01T12:03:07Z`. */
export function formatUtcRfc3339(time: Date): string {
  return `${time.toISOString().slice(0, 19)}Z`;
}
