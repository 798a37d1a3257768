/** Helpers shared by the CLI commands: connection, argument parsing and output. */
import { once } from "node:events";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { Client, type CallOptions } from "../client/client.js";
import { InvalidArgument, MetadataError } from "../domain/errors.js";

/** Where clients connect without --server or CTRMETA_SERVER. */
export const DEFAULT_SERVER = "nats://127.0.0.1:4222";

export interface GlobalOptions {
  /** Undefined when neither --server nor CTRMETA_SERVER is given. */
  server?: string;
  namespace: string;
  prefix?: string;
  timeout: string;
}

export function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals() as GlobalOptions;
}

/** The server clients use: --server, then CTRMETA_SERVER, then the default. */
export function clientServer(options: GlobalOptions): string {
  return options.server ?? process.env.CTRMETA_SERVER ?? DEFAULT_SERVER;
}

/** Connect with the global options, run `action`, and always close. */
export async function withClient<T>(command: Command, action: (client: Client, options: GlobalOptions) => Promise<T>): Promise<T> {
  const options = globals(command);
  const server = clientServer(options);
  const timeoutMs = Number(options.timeout);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new InvalidArgument(`--timeout ${options.timeout}: expected milliseconds > 0`);
  let client: Client;
  try {
    client = await Client.connect({ servers: server, namespace: options.namespace, prefix: options.prefix, timeoutMs });
  } catch (error) {
    throw new Error(`cannot connect to ${server}: ${(error as Error).message} (is \`ctrmeta serve\` running? pass --server URL)`);
  }
  try {
    return await action(client, options);
  } finally {
    await client.close();
  }
}

/**
 * Parse `key=value` arguments as ctr does: a bare `key` means `key=true`, and
 * `key=` (empty value) removes the label when applied as an update.
 */
export function parseLabelArgs(args: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const arg of args) {
    const index = arg.indexOf("=");
    const key = index < 0 ? arg : arg.slice(0, index);
    Object.defineProperty(labels, key, {
      value: index < 0 ? "true" : arg.slice(index + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return labels;
}

/** Labels as `k=v,k2=v2` in key order. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  return Object.keys(labels ?? {})
    .sort()
    .map((key) => `${key}=${labels![key]}`)
    .join(",");
}

/** Read JSON from a file, or from stdin for `-`. */
export function readJsonFile(path: string): unknown {
  const text = readFileSync(path === "-" ? 0 : path, "utf8");
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidArgument(`${path === "-" ? "stdin" : path} is not valid JSON: ${(error as Error).message}`);
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 4)}\n`);
}

/** How ctr configures Go's text/tabwriter for one table. */
export interface TableLayout {
  minWidth: number;
  padding: number;
  /** With a tab, cells are padded with tabs to the next multiple of 8 columns. */
  padChar: " " | "\t";
  /** Whether ctr ends each row with a tab, which pads the last cell like the others. */
  padLastCell: boolean;
}

/** `tabwriter.NewWriter(os.Stdout, 1, 8, 1, ' ', 0)` with rows ending in a tab: most ctr lists. */
export const CTR_TABLE: TableLayout = { minWidth: 1, padding: 1, padChar: " ", padLastCell: true };

const TAB_WIDTH = 8;

/** Compute the width of each column: the widest cell plus `padding`, and at least `minWidth`. */
export function columnWidths(rows: readonly string[][], layout: TableLayout): number[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, column) => {
      widths[column] = Math.max(widths[column] ?? 0, [...cell].length + layout.padding, layout.minWidth);
    });
  }
  return widths;
}

/**
 * Format rows with the given column widths. A cell wider than its column still
 * gets `padding` after it, so that cells never run into each other.
 */
export function formatTableRows(rows: readonly string[][], widths: readonly number[], layout: TableLayout): string {
  const pad = (cell: string, column: number): string => {
    const textWidth = [...cell].length;
    const width = Math.max(widths[column] ?? 0, textWidth + layout.padding, layout.minWidth);
    if (layout.padChar === " ") return cell + " ".repeat(width - textWidth);
    const cellWidth = Math.ceil(width / TAB_WIDTH) * TAB_WIDTH;
    return cell + "\t".repeat(Math.ceil((cellWidth - textWidth) / TAB_WIDTH));
  };
  const lines = rows.map((row) =>
    row.map((cell, column) => (column < row.length - 1 || layout.padLastCell ? pad(cell, column) : cell)).join(""),
  );
  return lines.map((line) => `${line}\n`).join("");
}

/**
 * Print rows aligned like Go's tabwriter: each padded cell is as wide as the widest
 * cell of its column plus `padding`, and at least `minWidth`.
 */
export function printTable(rows: string[][], layout: TableLayout = CTR_TABLE): void {
  process.stdout.write(formatTableRows(rows, columnWidths(rows, layout), layout));
}

/** Parse a positive integer option, naming the option in the error. */
export function parseCount(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new InvalidArgument(`${name} ${value}: expected a non-negative integer`);
  return number;
}

/** An error whose message was already printed; the CLI only sets the exit code. */
export class ReportedError extends Error {}

/** Run `action` for every item, report each failure, and fail at the end if any failed. */
export async function forEachItem(items: readonly string[], action: (item: string, index: number) => Promise<void>): Promise<void> {
  let failures = 0;
  for (const [index, item] of items.entries()) {
    try {
      await action(item, index);
    } catch (error) {
      failures++;
      process.stderr.write(`ctrmeta: ${(error as Error).message}\n`);
    }
  }
  if (failures > 0) throw new ReportedError(`${failures} of ${items.length} failed`);
}

/** Prefix an error's message with `context` as ctr does (`unable to delete NAME: ...`), keeping its kind. */
export function wrapError(error: unknown, context: string): Error {
  if (error instanceof MetadataError) return error.wrap(context);
  return new Error(`${context}: ${(error as Error).message}`, { cause: error });
}

/** Print a problem that does not fail the command, as ctr logs a warning. */
export function printWarning(message: string): void {
  process.stderr.write(`ctrmeta: warning: ${message}\n`);
}

/** The --at option of read commands. */
export const AT_FLAGS = "--at <seq|time>";
export const AT_HELP = "read the state after this log sequence, or at this RFC 3339 time, instead of now";

/**
 * Build the call options of a read with `--at`. Digits are sent as a log sequence and
 * any other text as a time, which the service parses and rejects if invalid.
 */
export function readOptions(options: { at?: string }): CallOptions {
  if (options.at === undefined) return {};
  const at = options.at.trim();
  if (at === "") throw new InvalidArgument("--at: expected a log sequence or an RFC 3339 time, got an empty value");
  if (!/^\d+$/.test(at)) return { at };
  const seq = Number(at);
  if (!Number.isSafeInteger(seq)) throw new InvalidArgument(`--at ${at}: the log sequence is too large`);
  return { at: seq };
}

/** Write to stdout and wait while its buffer is full, so a long listing streams instead of piling up in memory. */
export async function writeOut(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, "drain");
}
