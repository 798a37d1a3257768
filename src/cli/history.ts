/** `history <key>` of each group: every event of one object, oldest first. */
import { Command } from "commander";
import type { HistoryEntry } from "../client/services.js";
import { quote } from "../domain/errors.js";
import { globals, printJson, withClient } from "./common.js";

/** The object kinds the history service accepts. */
export type HistoryKind = "namespace" | "container" | "image" | "content" | "snapshot" | "lease";

export interface HistorySubcommand {
  kind: HistoryKind;
  /** Name of the key argument in the help text, e.g. `id` or `digest`. */
  keyName: string;
  /** The snapshotter of a snapshot, read from the group's options. */
  snapshotter?: (cmd: Command) => string;
}

function formatValue(value: unknown): string {
  return value === undefined ? "(none)" : JSON.stringify(value);
}

/** Format entries as one line per event (seq, time, request id, type) with one indented line per changed field. */
export function formatHistory(entries: readonly HistoryEntry[]): string {
  const lines: string[] = [];
  for (const entry of entries) {
    lines.push(`${entry.seq} ${entry.time} ${entry.requestId || "-"} ${entry.type}`);
    for (const change of entry.changes) lines.push(`  ${change.path}: ${formatValue(change.from)} -> ${formatValue(change.to)}`);
  }
  return lines.map((line) => `${line}\n`).join("");
}

function describeObject(kind: HistoryKind, key: string, namespace: string, snapshotter: string | undefined): string {
  if (kind === "namespace") return `namespace ${quote(key)}`;
  const name = kind === "snapshot" ? `snapshot ${quote(key)} of snapshotter ${quote(snapshotter ?? "")}` : `${kind} ${quote(key)}`;
  return `${name} in namespace ${quote(namespace)}`;
}

/**
 * Build the `history` subcommand of a group. An object with no events never
 * existed (or has another key), so the command fails instead of printing nothing.
 */
export function historyCommand(spec: HistorySubcommand): Command {
  return new Command("history")
    .description(`print every event of one ${spec.kind}, oldest first, with the fields each one changed; fails when there is none`)
    .argument(`<${spec.keyName}>`)
    .option("--json", "print the events as a JSON list")
    .action(async (key: string, options: { json?: boolean }, cmd: Command) => {
      const snapshotter = spec.snapshotter?.(cmd);
      await withClient(cmd, async (client) => {
        const entries = await client.history.get(spec.kind, key, snapshotter);
        if (entries.length === 0) {
          throw new Error(`no history for ${describeObject(spec.kind, key, globals(cmd).namespace, snapshotter)}`);
        }
        if (options.json) printJson(entries);
        else process.stdout.write(formatHistory(entries));
      });
    });
}
