import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ClientBase } from "pg";
import { to as copyTo } from "pg-copy-streams";

const HEADER = 19; // "PGCOPY\n\xff\r\n\0", flags (int32), header extension length (int32)

/**
 * Runs `select` (one text column holding one JSON value per row) as
 * `COPY (…) TO STDOUT (FORMAT binary)` and joins the values into one JSON array, byte for byte:
 * the rows never become JavaScript strings or objects. For answers of megabytes (/v1/nodes at
 * 10,000 nodes) this leaves the formatting to PostgreSQL and keeps the event loop and the garbage
 * collector out of it, so that other requests are not held up while an answer is built.
 */
export async function copyJsonArray(client: ClientBase, select: string): Promise<Buffer> {
  return joinJsonArray(await copyJsonRows(client, select));
}

/** Like {@link copyJsonArray}, but each row's JSON value apart (views into the COPY chunks). */
export async function copyJsonRows(client: ClientBase, select: string): Promise<Buffer[]> {
  const parser = new RowSplitter();
  await pipeline(
    client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`)),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        try {
          parser.push(chunk);
          done();
        } catch (err) {
          done(err as Error);
        }
      },
    }),
  );
  return parser.finish();
}

/** `[row,row,…]` from JSON values. */
export function joinJsonArray(rows: readonly Buffer[]): Buffer {
  const parts: Buffer[] = [OPEN];
  for (let i = 0; i < rows.length; i++) {
    if (i > 0) parts.push(COMMA);
    parts.push(rows[i]!);
  }
  parts.push(CLOSE);
  return Buffer.concat(parts);
}

/** Reads binary COPY tuples of one field each, across chunk boundaries. */
class RowSplitter {
  private pending: Buffer = Buffer.alloc(0);
  private readonly rows: Buffer[] = [];
  private headerSeen = false;
  private done = false;

  push(chunk: Buffer): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    if (!this.headerSeen) {
      if (buf.length < HEADER) return void (this.pending = buf);
      pos = HEADER + buf.readInt32BE(15);
      this.headerSeen = true;
    }
    while (!this.done && buf.length - pos >= 2) {
      const fields = buf.readInt16BE(pos);
      if (fields === -1) {
        this.done = true;
        pos += 2;
        break;
      }
      if (fields !== 1) throw new Error(`COPY row with ${fields} fields, expected 1`);
      if (buf.length - pos < 6) break;
      const len = buf.readInt32BE(pos + 2);
      if (len < 0) throw new Error("COPY row with a NULL JSON value");
      if (buf.length - pos < 6 + len) break;
      this.rows.push(buf.subarray(pos + 6, pos + 6 + len));
      pos += 6 + len;
    }
    buf = buf.subarray(pos);
    // Rows handed on above are views into the chunk; what is left over is copied so that the
    // next chunk can be appended to it.
    this.pending = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }

  finish(): Buffer[] {
    if (!this.done) throw new Error("COPY output ended without its trailer");
    return this.rows;
  }
}

const OPEN = Buffer.from("[");
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]");
