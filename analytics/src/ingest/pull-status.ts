/**
 * A status message of a JetStream pull request (`NATS/1.0 408 Request Timeout`, `409 Consumer
 * Deleted`, `100 Idle Heartbeat`...), read from its header block.
 */
export interface PullStatus {
  code: number;
  description: string;
  /** `Nats-Pending-Messages`: what the ended request still had outstanding, when it says. */
  pendingMessages: number | undefined;
}

/**
 * Reads a NATS header block (`NATS/1.0[ code description]\r\nKey: value\r\n...\r\n\r\n`).
 * @returns its status, or undefined when the block carries no status code (a normal message).
 */
export function readPullStatus(headers: Uint8Array): PullStatus | undefined {
  const text = Buffer.from(headers.buffer, headers.byteOffset, headers.byteLength).toString(
    "latin1",
  );
  const lines = text.split("\r\n");
  const m = /^NATS\/1\.0 (\d{3})\s*(.*)$/.exec(lines[0] ?? "");
  if (!m) return undefined;
  const pending = headerValue(lines, "nats-pending-messages");
  const n = pending === undefined ? NaN : Number(pending);
  return {
    code: Number(m[1]),
    description: m[2]!.trim(),
    pendingMessages: Number.isInteger(n) && n >= 0 ? n : undefined,
  };
}

/** The first value of header `name` (case-insensitive) in a header block, if present. */
export function readHeader(headers: Uint8Array, name: string): string | undefined {
  const text = Buffer.from(headers.buffer, headers.byteOffset, headers.byteLength).toString("utf8");
  return headerValue(text.split("\r\n"), name.toLowerCase());
}

function headerValue(lines: readonly string[], lowerName: string): string | undefined {
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(":");
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === lowerName) {
      return line.slice(colon + 1).trim();
    }
  }
  return undefined;
}
