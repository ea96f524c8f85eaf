import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ClientBase } from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { pgText } from "./pg-text";

/** A value of one column in PostgreSQL's COPY text format; null/undefined become `\N`. */
export type CopyValue = string | number | boolean | null | undefined;

const SPECIAL: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/**
 * Escapes a value for COPY ... FROM STDIN (text format): backslash, tab, newline and carriage
 * return are the only characters with meaning there. Anything that came off the wire (node ids,
 * reasons, config keys) passes through here, so no payload can break a row.
 */
export function copyField(v: CopyValue): string {
  if (v === null || v === undefined) return "\\N";
  if (typeof v === "boolean") return v ? "t" : "f";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) return "\\N";
    return String(v);
  }
  return pgText(v).replace(/[\\\t\n\r]/g, (c) => SPECIAL[c]!);
}

/** One COPY text line (with its trailing newline). */
export function copyLine(values: readonly CopyValue[]): string {
  return values.map(copyField).join("\t") + "\n";
}

/** Milliseconds since the epoch as a timestamptz literal COPY accepts. */
export function copyTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Streams COPY text lines into `table` (inside the caller's transaction). */
export async function copyInto(
  client: ClientBase,
  table: string,
  columns: readonly string[],
  lines: readonly string[],
): Promise<void> {
  if (lines.length === 0) return;
  const sink = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`));
  await pipeline(Readable.from([lines.join("")]), sink);
}
