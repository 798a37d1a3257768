/**
 * Short benchmarks (bench/scenarios/ci.ts) with generous floors on the ratios
 * between ctrmeta and its references measured in the same run; never on absolute
 * times. The containerd comparisons are skipped, with the reason in the output,
 * when containerd or its API definitions are not installed.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runCiScenarios } from "../../bench/scenarios/ci.js";

describe("benchmark ratio floors", () => {
  it("keeps every ratio past its floor", { timeout: 300_000 }, async () => {
    const { reports, checks } = await runCiScenarios();
    for (const reason of reports.flatMap((report) => report.skipped)) console.log(`skipped: ${reason}`);
    assert.ok(checks.length > 0, "no ratio was checked");
    for (const check of checks) {
      const sign = check.row.direction === "higher" ? "at least" : "at most";
      assert.ok(check.passed, `${check.row.scenario}: ${check.row.measure} vs ${check.row.reference}: ratio ${check.row.ratio.toFixed(2)}, expected ${sign} ${check.floor}`);
    }
  });
});
