/**
 * Result rows of a benchmark run: each compares ctrmeta with a reference measured
 * in the same run, and checks the ratio against its target. Rows print as a
 * Markdown table; `--json FILE` also writes them as JSON.
 */
import { writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";

/** `higher`: ctrmeta / reference must be at least the target; `lower`: at most. */
export type Direction = "higher" | "lower";

export interface Row {
  scenario: string;
  /** Measure compared, e.g. "CreateContainer 64 concurrent, cmd/s". */
  measure: string;
  ctrmeta: number;
  /** Name of the reference, e.g. "containerd 1.6" or "raw request/reply". */
  reference: string;
  referenceValue: number;
  /** ctrmeta / reference, or for an absolute target the value itself. */
  ratio: number;
  /** Undefined for a row recorded for information only. */
  target?: number;
  direction: Direction;
  unit: string;
  /** Undefined when the row has no target. */
  met?: boolean;
  note?: string;
}

export interface RowInput {
  measure: string;
  ctrmeta: number;
  reference: string;
  referenceValue: number;
  target?: number;
  direction: Direction;
  unit: string;
  note?: string;
}

export class Report {
  readonly rows: Row[] = [];
  readonly skipped: string[] = [];
  private readonly loadAtStart = loadavg();

  constructor(readonly scenario: string) {}

  /** Add a comparison; the ratio is ctrmeta / reference. */
  compare(input: RowInput): Row {
    const ratio = input.ctrmeta / input.referenceValue;
    const row: Row = { scenario: this.scenario, ...input, ratio };
    if (input.target !== undefined) row.met = input.direction === "higher" ? ratio >= input.target : ratio <= input.target;
    this.rows.push(row);
    const verdict = row.met === undefined ? "(no target)" : `(target ${targetText(row)}) ${row.met ? "met" : "NOT MET"}`;
    console.log(`  ${input.measure}: ctrmeta ${format(input.ctrmeta)} ${input.unit}, ${input.reference} ${format(input.referenceValue)} ${input.unit}, ratio ${ratio.toFixed(2)} ${verdict}`);
    return row;
  }

  skip(reason: string): void {
    this.skipped.push(reason);
    console.log(`  skipped: ${reason}`);
  }

  /** Machine and load of this run, for the record. */
  environment(): Record<string, unknown> {
    return {
      cores: cpus().length,
      cpu: cpus()[0]?.model,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAtStart: this.loadAtStart.map((value) => Number(value.toFixed(2))),
      loadAtEnd: loadavg().map((value) => Number(value.toFixed(2))),
    };
  }
}

export function targetText(row: Pick<Row, "target" | "direction">): string {
  if (row.target === undefined) return "-";
  return `${row.direction === "higher" ? "≥" : "≤"} ${row.target}`;
}

export function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

/** Print every row as one Markdown table. */
export function printTable(reports: Report[]): void {
  console.log("\n| scenario | measure | ctrmeta | reference | ratio | target | met |");
  console.log("|---|---|---|---|---|---|---|");
  for (const report of reports) {
    for (const row of report.rows) {
      let met = "-";
      if (row.met !== undefined) met = row.met ? "yes" : "**no**";
      console.log(
        `| ${row.scenario} | ${row.measure} | ${format(row.ctrmeta)} ${row.unit} | ${row.reference}: ${format(row.referenceValue)} ${row.unit} | ${row.ratio.toFixed(2)} | ${targetText(row)} | ${met} |`,
      );
    }
    for (const reason of report.skipped) console.log(`| ${report.scenario} | skipped: ${reason} | | | | | |`);
  }
}

export function writeJson(path: string, reports: Report[], extra: Record<string, unknown>): void {
  const environment = reports[0]?.environment() ?? {};
  const body = { ...extra, environment, rows: reports.flatMap((report) => report.rows), skipped: reports.flatMap((report) => report.skipped) };
  writeFileSync(path, `${JSON.stringify(body, null, 2)}\n`);
}
