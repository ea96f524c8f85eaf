import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ClientBase, PoolClient } from "pg";
import { from as copyFrom } from "pg-copy-streams";

/** A message that could not be turned into a row, kept in `ingest_rejects`. */
export interface RejectedRecord {
  subject: string;
  streamSeq: number;
  reason: string;
  data: Uint8Array;
  timeMs: number;
}

// Temporary tables live per connection; remember which pooled connections already have them.
const prepared = new WeakMap<PoolClient, Set<string>>();

/**
 * Creates a session-local staging table (once per connection) shaped by `ddl`. ON COMMIT DELETE
 * ROWS empties it at the end of every transaction, committed or not.
 */
export async function ensureStaging(client: PoolClient, name: string, ddl: string): Promise<void> {
  let names = prepared.get(client);
  if (!names) prepared.set(client, (names = new Set()));
  if (names.has(name)) return;
  await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${name} (${ddl}) ON COMMIT DELETE ROWS`);
  names.add(name);
}

/** Streams COPY text lines into `table` (inside the caller's transaction). */
export async function copyInto(
  client: PoolClient,
  table: string,
  columns: readonly string[],
  lines: readonly string[],
): Promise<void> {
  if (lines.length === 0) return;
  const sink = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`));
  await pipeline(Readable.from([lines.join("")]), sink);
}

/** Streams a binary COPY payload (binary-copy.ts framing) into `table`. */
export async function copyBinaryInto(
  client: ClientBase,
  table: string,
  columns: readonly string[],
  payload: Buffer,
): Promise<void> {
  const sink = client.query(
    copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN (FORMAT binary)`),
  );
  await pipeline(Readable.from([payload]), sink);
}

/** Stores undecodable messages (inside the caller's transaction); duplicates are ignored. */
export async function storeRejects(
  client: PoolClient,
  stream: string,
  rejects: readonly RejectedRecord[],
): Promise<void> {
  if (rejects.length === 0) return;
  const values: unknown[] = [];
  const rows = rejects.map((r, i) => {
    values.push(stream, r.streamSeq, r.subject, r.reason, Buffer.from(r.data), new Date(r.timeMs));
    const b = i * 6;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
  });
  await client.query(
    `INSERT INTO ingest_rejects (stream, stream_seq, subject, reason, data, received_at)
     VALUES ${rows.join(", ")} ON CONFLICT DO NOTHING`,
    values,
  );
}
