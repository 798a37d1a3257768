/**
 * Conformance runner: runs every case of a cases file against one fresh embedded
 * ctrmeta (a private nats-server on 127.0.0.1 and one instance) and prints one line
 * per case, then `N passed, M failed`.
 *
 * Usage: node dist/src/runners/conformance.js FILE   (or `npm run conformance -- FILE`)
 *
 * Cases share the store: each case gets its own namespace prefix
 * `<runTag>-<caseNumber>-` unless it sets `rawNamespaces`. Steps are numbered
 * from 0, as indexes into a case's `steps` array. A case stops at its first step
 * whose outcome differs. The exit code is 0 when no case failed, 1 when one did,
 * and 2 for a usage error, an invalid cases file or a stack that did not start.
 */
import { randomBytes } from "node:crypto";
import { pathToFileURL } from "node:url";
import type { Client } from "../client/client.js";
import { CaseFileError, loadCasesFile, type Case } from "./case-file.js";
import { startEmbeddedStack, type EmbeddedStack } from "./embedded.js";
import { checkOutcome } from "./expectations.js";
import { collectGarbage, NamespaceNames, runStep, type StepResult } from "./operations.js";

export type CaseStatus = "ok" | "fail";

export interface CaseResult {
  id: string;
  status: CaseStatus;
  /** For a failure, `step N <op>: <what differed>`. */
  detail?: string;
}

/** Run a case's steps against a client, with the case's namespace names. */
export async function runCaseWith(client: Client, testCase: Case, names: NamespaceNames): Promise<CaseResult> {
  const id = testCase.id;
  for (const step of testCase.steps) {
    const label = `step ${step.index} ${step.op}`;
    let result: StepResult;
    try {
      if (step.op === "gc") {
        await collectGarbage(client);
        result = { outcome: { ok: true } };
      } else {
        result = await runStep(client, step, names);
      }
    } catch (error) {
      return { id, status: "fail", detail: `${label}: runner error: ${(error as Error).message}` };
    }

    const difference = checkOutcome(step.expect, result.outcome);
    if (difference !== undefined) return { id, status: "fail", detail: `${label}: ${difference}` };
    if (result.garbageCollected === false) return { id, status: "fail", detail: `${label}: the reply carries no garbage collection stats` };
  }
  return { id, status: "ok" };
}

/** One embedded ctrmeta on which cases run one after another. */
export class ConformanceRun {
  /** Run-unique start of every namespace prefix, `[a-z0-9]+`. */
  readonly runTag = randomBytes(4).toString("hex");
  private caseCount = 0;

  private constructor(private readonly stack: EmbeddedStack) {}

  static async start(): Promise<ConformanceRun> {
    return new ConformanceRun(await startEmbeddedStack());
  }

  get client(): Client {
    return this.stack.client;
  }

  async runCase(testCase: Case): Promise<CaseResult> {
    this.caseCount += 1;
    const prefix = testCase.rawNamespaces ? undefined : `${this.runTag}-${this.caseCount}-`;
    return runCaseWith(this.client, testCase, new NamespaceNames(prefix, this.runTag));
  }

  close(): Promise<void> {
    return this.stack.close();
  }
}

export function formatResult(result: CaseResult): string {
  switch (result.status) {
    case "ok":
      return `ok   ${result.id}`;
    case "fail":
      return `FAIL ${result.id}: ${result.detail ?? ""}`;
  }
}

export function formatSummary(results: readonly CaseResult[]): string {
  const count = (status: CaseStatus) => results.filter((result) => result.status === status).length;
  return `${count("ok")} passed, ${count("fail")} failed`;
}

/** Run cases in order on a run, reporting each result as it is known. */
export async function runCases(run: ConformanceRun, cases: readonly Case[], onResult: (result: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const testCase of cases) {
    const result = await run.runCase(testCase);
    results.push(result);
    onResult(result);
  }
  return results;
}

/** Run cases in order on one fresh embedded ctrmeta, then stop it. */
export async function runConformance(cases: readonly Case[], onResult: (result: CaseResult) => void = () => undefined): Promise<CaseResult[]> {
  const run = await ConformanceRun.start();
  try {
    return await runCases(run, cases, onResult);
  } finally {
    await run.close();
  }
}

const USAGE = `usage: conformance FILE

Runs every case of the conformance cases FILE against a fresh embedded ctrmeta
(nats-server must be on PATH) and prints one line per case, then a summary.
Exit code: 0 when no case failed, 1 when one did, 2 for a usage error, an invalid
cases file, or a stack that did not start.`;

async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--help" || argv[0] === "-h")) {
    console.log(USAGE);
    return 0;
  }
  if (argv.length !== 1 || argv[0]!.startsWith("-")) {
    console.error(`conformance: expected exactly one cases FILE, got ${argv.length === 0 ? "none" : argv.join(" ")}\n\n${USAGE}`);
    return 2;
  }

  let cases: Case[];
  try {
    cases = loadCasesFile(argv[0]!);
  } catch (error) {
    if (!(error instanceof CaseFileError)) throw error;
    console.error(`conformance: ${error.message}`);
    return 2;
  }

  let run: ConformanceRun;
  try {
    run = await ConformanceRun.start();
  } catch (error) {
    console.error(`conformance: failed to start the embedded ctrmeta: ${(error as Error).message}`);
    return 2;
  }
  const stop = () => {
    void run.close().finally(() => process.exit(130));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);

  let results: CaseResult[];
  try {
    results = await runCases(run, cases, (result) => console.log(formatResult(result)));
  } finally {
    await run.close();
  }
  console.log(formatSummary(results));
  return results.some((result) => result.status === "fail") ? 1 : 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`conformance: ${(error as Error).message}`);
      process.exitCode = 2;
    },
  );
}
