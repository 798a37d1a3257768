/**
 * Output of `containers ls` as the list arrives in chunks: each chunk is printed
 * before the next one is read, in the table, JSON or quiet format.
 */
import type { ContainerRecord } from "../client/services.js";
import { columnWidths, formatTableRows, writeOut, type TableLayout } from "./common.js";

/** ctr's containers ls pads wider than its other lists: minwidth 4 and padding 4. */
const CONTAINERS_TABLE: TableLayout = { minWidth: 4, padding: 4, padChar: " ", padLastCell: true };
const CONTAINERS_HEADER = ["CONTAINER", "IMAGE", "RUNTIME"];

export interface ListPrinter {
  chunk(containers: readonly ContainerRecord[]): Promise<void>;
  /** Finish the output after the last chunk. */
  end(): Promise<void>;
}

/**
 * A table whose column widths come from the header and the first non-empty chunk,
 * as ctr computes them over the whole list. A later cell that is wider than its
 * column shifts the rest of its own row only, and keeps the padding after it.
 */
class StreamingTable {
  private widths: number[] | undefined;

  constructor(
    private readonly header: string[],
    private readonly layout: TableLayout,
  ) {}

  async rows(rows: string[][]): Promise<void> {
    if (rows.length === 0) return;
    if (this.widths === undefined) {
      const first = [this.header, ...rows];
      this.widths = columnWidths(first, this.layout);
      await writeOut(formatTableRows(first, this.widths, this.layout));
      return;
    }
    await writeOut(formatTableRows(rows, this.widths, this.layout));
  }

  /** Print the header alone when no row came. */
  async end(): Promise<void> {
    if (this.widths === undefined) await writeOut(formatTableRows([this.header], columnWidths([this.header], this.layout), this.layout));
  }
}

/**
 * A JSON array printed element by element, in the same text as
 * `JSON.stringify(list, null, 4)` of the whole list.
 */
class StreamingJsonArray {
  private count = 0;

  async elements(values: readonly unknown[]): Promise<void> {
    let text = "";
    for (const value of values) {
      const element = JSON.stringify(value, null, 4).replaceAll("\n", "\n    ");
      text += `${this.count === 0 ? "[\n" : ",\n"}    ${element}`;
      this.count++;
    }
    if (text !== "") await writeOut(text);
  }

  async end(): Promise<void> {
    await writeOut(this.count === 0 ? "[]\n" : "\n]\n");
  }
}

export function listPrinter(format: "table" | "json" | "quiet"): ListPrinter {
  if (format === "quiet") {
    return {
      chunk: (containers) => writeOut(containers.map((container) => `${container.id}\n`).join("")),
      end: async () => undefined,
    };
  }
  if (format === "json") {
    const array = new StreamingJsonArray();
    return { chunk: (containers) => array.elements(containers), end: () => array.end() };
  }
  const table = new StreamingTable(CONTAINERS_HEADER, CONTAINERS_TABLE);
  return {
    chunk: (containers) => table.rows(containers.map((c) => [c.id, c.image || "-", c.runtime?.name ?? ""])),
    end: () => table.end(),
  };
}
