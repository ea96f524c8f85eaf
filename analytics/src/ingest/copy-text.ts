/** A value of one column in PostgreSQL's COPY text format; null/undefined become `\N`. */
export type CopyValue = string | number | boolean | null | undefined;

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
  // PostgreSQL text cannot hold NUL; it becomes U+FFFD rather than failing the whole batch.
  return v.replace(/[\\\t\n\r\0]/g, (c) =>
    c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : c === "\r" ? "\\r" : "\uFFFD",
  );
}

/** One COPY text line (with its trailing newline). */
export function copyLine(values: readonly CopyValue[]): string {
  return values.map(copyField).join("\t") + "\n";
}

/** Milliseconds since the epoch as a timestamptz literal COPY accepts. */
export function copyTime(ms: number): string {
  return new Date(ms).toISOString();
}
