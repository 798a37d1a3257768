/**
 * The ctr value formats the CLI reproduces. Expected strings follow the Go code
 * that containerd v1.6.20 vendors: go-units' HumanSize and HumanDuration, and
 * pkg/progress.Bytes ("%02.1f %s" in powers of 1024).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseDuration } from "../../src/cli/leases.js";
import { formatBinarySize, formatDecimalSize, formatHumanDuration, formatUtcRfc3339 } from "../../src/cli/format.js";

describe("CLI value formats", () => {
  it("binary sizes like progress.Bytes", () => {
    const cases: Array<[number, string]> = [
      [0, "0.0 B"],
      [1, "1.0 B"],
      [1023, "1023.0 B"],
      [1024, "1.0 KiB"],
      [1280, "1.2 KiB"], // 1.25 is an exact tie, and Go rounds it to even
      [1792, "1.8 KiB"], // 1.75 rounds to even too
      [1536, "1.5 KiB"],
      [1484.8, "1.4 KiB"], // 1.45 as a double is just below the tie, so it rounds down
      [2508.8, "2.5 KiB"], // 2.45 as a double is just above the tie, so it rounds up
      [5 * 1024 * 1024, "5.0 MiB"],
      [3 * 1024 ** 3 + 1, "3.0 GiB"],
    ];
    for (const [bytes, expected] of cases) assert.equal(formatBinarySize(bytes), expected, `${bytes} bytes`);
  });

  it("decimal sizes like HumanSize", () => {
    const cases: Array<[number, string]> = [
      [0, "0B"],
      [999, "999B"],
      [1000, "1kB"],
      [1280, "1.28kB"],
      [100_250, "100.2kB"], // an exact tie at the fourth digit rounds to even
      [1_234_567, "1.235MB"],
      [5_000_000, "5MB"],
      [999_950, "1000kB"],
    ];
    for (const [bytes, expected] of cases) assert.equal(formatDecimalSize(bytes), expected, `${bytes} bytes`);
  });

  it("ages like HumanDuration", () => {
    const second = 1000;
    const minute = 60 * second;
    const hour = 60 * minute;
    const day = 24 * hour;
    const cases: Array<[number, string]> = [
      [0, "Less than a second"],
      [999, "Less than a second"],
      [1500, "1 second"],
      [59 * second, "59 seconds"],
      [minute, "About a minute"],
      [2 * minute - 1, "About a minute"],
      [2 * minute, "2 minutes"],
      [59 * minute, "59 minutes"],
      [89 * minute, "About an hour"],
      [90 * minute, "2 hours"],
      [47 * hour, "47 hours"],
      [48 * hour, "2 days"],
      [14 * day, "2 weeks"],
      [60 * day, "2 months"],
      [730 * day, "2 years"],
    ];
    for (const [elapsedMs, expected] of cases) assert.equal(formatHumanDuration(elapsedMs), expected, `${elapsedMs} ms`);
  });

  it("UTC times with whole seconds", () => {
    assert.equal(formatUtcRfc3339(new Date("2024-05-01T12:03:07.999Z")), "2024-05-01T12:03:07Z");
  });

  it("lease durations like Go", () => {
    assert.equal(parseDuration("0"), 0);
    assert.equal(parseDuration("90s"), 90_000);
    assert.equal(parseDuration("1h30m"), 5_400_000);
    assert.equal(parseDuration("1.5h"), 5_400_000);
    assert.equal(parseDuration("250ms"), 250);
    for (const invalid of ["", "5", "5x", "1h 30m", "-1h"]) {
      assert.throws(() => parseDuration(invalid), /expected a duration such as 1h or 30m/, JSON.stringify(invalid));
    }
  });
});
