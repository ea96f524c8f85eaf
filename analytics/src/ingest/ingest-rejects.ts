import type { ClientBase } from "pg";
import { pgText } from "../pg/pg-text";

/** A message that could not be turned into a row, kept in `ingest_rejects`. */
export interface RejectedRecord {
  subject: string;
  streamSeq: number;
  reason: string;
  data: Uint8Array;
  timeMs: number;
}

/**
 * Stores undecodable messages (inside the caller's transaction); duplicates are ignored. Subject
 * and reason may quote what came off the wire, so they pass the NUL rule: a reject that could not
 * be stored would stall the stream.
 */
export async function storeRejects(
  client: ClientBase,
  stream: string,
  rejects: readonly RejectedRecord[],
): Promise<void> {
  if (rejects.length === 0) return;
  const values: unknown[] = [];
  const rows = rejects.map((r, i) => {
    values.push(
      stream,
      r.streamSeq,
      pgText(r.subject),
      pgText(r.reason),
      Buffer.from(r.data),
      new Date(r.timeMs),
    );
    const b = i * 6;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
  });
  await client.query(
    `INSERT INTO ingest_rejects (stream, stream_seq, subject, reason, data, received_at)
     VALUES ${rows.join(", ")} ON CONFLICT DO NOTHING`,
    values,
  );
}
