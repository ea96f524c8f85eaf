import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ClientBase } from "pg";
import { from as copyFrom, to as copyTo } from "pg-copy-streams";
import { NUL_REPLACEMENT_UTF8, pgTextCheck } from "./pg-text";

// PostgreSQL's binary COPY format (`COPY … (FORMAT binary)`): a payload is the header, then
// tuples (a 16-bit field count, then per field a 32-bit length, -1 for NULL, and the value in the
// type's binary send format), then the trailer.

/** Start of every binary COPY payload: signature, flags 0, no header extension. */
export const COPY_BINARY_HEADER = Buffer.concat([
  Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"),
  Buffer.alloc(8),
]);

/** End of every binary COPY payload: a field count of -1. */
export const COPY_BINARY_TRAILER = Buffer.from([0xff, 0xff]);

const TWO_32 = 2 ** 32;

/** Writes an int8 field at `p`; returns the position after it. Throws outside ±2^63 or for a non-integer. */
export function int8Field(buf: Buffer, p: number, v: number): number {
  if (!Number.isInteger(v) || Math.abs(v) >= 2 ** 63) throw new RangeError(`${v} is not an int8`);
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(8, p);
  buf.writeInt32BE(hi, p + 4);
  buf.writeUInt32BE(v - hi * TWO_32, p + 8);
  return p + 12;
}

/**
 * Writes a text field copied byte for byte from bytes [start, end) of `data` (NUL stored as
 * U+FFFD); returns the position after it. Throws for bytes that are not UTF-8, naming `field`.
 * `buf` needs room for 4 + 3 × (end − start) bytes.
 */
export function textField(
  buf: Buffer,
  p: number,
  data: Uint8Array,
  start: number,
  end: number,
  field: string,
): number {
  const check = pgTextCheck(data, start, end);
  if (check === "invalid") throw new TypeError(`${field} is not valid UTF-8`);
  const lenAt = p;
  p += 4;
  if (check === "ok") {
    for (let i = start; i < end; i++) buf[p++] = data[i]!;
  } else {
    for (let i = start; i < end; i++) {
      if (data[i] === 0) p += NUL_REPLACEMENT_UTF8.copy(buf, p);
      else buf[p++] = data[i]!;
    }
  }
  buf.writeInt32BE(p - lenAt - 4, lenAt);
  return p;
}

/**
 * Writes a text field from a string known to be printable ASCII without NUL (a validated name);
 * returns the position after it. A plain loop: cheaper than an encoder call for a short name.
 */
export function asciiField(buf: Buffer, p: number, s: string): number {
  const n = s.length;
  buf.writeInt32BE(n, p);
  p += 4;
  for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
  return p;
}

/** Streams a binary COPY payload (header, tuples, trailer) into `table`. */
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

/**
 * Buffers that COPY outputs are read into and handed back after use, so a read of the whole
 * fleet (~1 MB at 10,000 nodes) does not make new external memory each time: a request that did
 * made V8 run a scavenge every few requests ("external memory pressure").
 */
export class CopyBuffers {
  private readonly free: Buffer[] = [];

  constructor(private readonly keep = 4) {}

  take(): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(64 * 1024);
  }

  /** Gives back a buffer from {@link take} (or the bigger one it grew into). */
  give(buf: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buf);
  }
}

/**
 * {@link copyBinaryOut} into one of `buffers`: `bytes` is a view of it, valid until `release`.
 */
export async function copyBinaryOutInto(
  client: ClientBase,
  select: string,
  buffers: CopyBuffers,
): Promise<{ bytes: Buffer; release: () => void }> {
  let buf = buffers.take();
  let n = 0;
  try {
    await pipeline(
      client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`)),
      new Writable({
        write(chunk: Buffer, _enc, done) {
          if (n + chunk.length > buf.length) {
            const bigger = Buffer.allocUnsafeSlow(Math.max(2 * buf.length, n + chunk.length));
            buf.copy(bigger, 0, 0, n);
            buf = bigger;
          }
          n += chunk.copy(buf, n);
          done();
        },
      }),
    );
  } catch (err) {
    buffers.give(buf);
    throw err;
  }
  return { bytes: buf.subarray(0, n), release: () => buffers.give(buf) };
}

/** Runs `select` as `COPY (…) TO STDOUT (FORMAT binary)` and returns the whole output. */
export async function copyBinaryOut(client: ClientBase, select: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`)),
    new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(chunks);
}
