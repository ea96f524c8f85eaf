/** Microseconds between the Unix epoch and PostgreSQL's (2000-01-01 UTC), in milliseconds. */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 2 ** 32;
const SIGNATURE = Buffer.from("PGCOPY\n\xff\r\n\0", "latin1");

/**
 * Builds the payload of `COPY … FROM STDIN (FORMAT binary)`: no text parsing on the server
 * (timestamps, integers and booleans arrive as their binary values), and no string building here.
 * Every row must write exactly the columns named in the COPY, in order.
 *
 * Integers are written from JavaScript numbers, exact up to 2^53 (JetStream sequences, epoch
 * milliseconds and microseconds all fit).
 */
export class BinaryCopyBuffer {
  private buf: Buffer;
  private pos = 0;

  constructor(expectedBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(1024, expectedBytes));
    SIGNATURE.copy(this.buf, 0);
    this.buf.writeInt32BE(0, 11); // flags
    this.buf.writeInt32BE(0, 15); // header extension length
    this.pos = 19;
  }

  /** Starts a row of `columns` fields. */
  row(columns: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(columns, this.pos);
    this.pos += 2;
    return this;
  }

  null(): this {
    this.ensure(4);
    this.buf.writeInt32BE(-1, this.pos);
    this.pos += 4;
    return this;
  }

  /** Throws a RangeError outside ±2^63 or for a non-integer. */
  int8(v: number): this {
    this.ensure(12);
    this.buf.writeInt32BE(8, this.pos);
    this.writeInt64(v);
    return this;
  }

  /** Throws a RangeError outside the int4 range (the row is then refused, not wrapped around). */
  int4(v: number): this {
    if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) {
      throw new RangeError(`${v} is not an int4`);
    }
    this.ensure(8);
    this.buf.writeInt32BE(4, this.pos);
    this.buf.writeInt32BE(v, this.pos + 4);
    this.pos += 8;
    return this;
  }

  float4(v: number): this {
    this.ensure(8);
    this.buf.writeInt32BE(4, this.pos);
    this.buf.writeFloatBE(v, this.pos + 4);
    this.pos += 8;
    return this;
  }

  bool(v: boolean): this {
    this.ensure(5);
    this.buf.writeInt32BE(1, this.pos);
    this.buf[this.pos + 4] = v ? 1 : 0;
    this.pos += 5;
    return this;
  }

  /** timestamptz from epoch milliseconds. */
  timestamptz(ms: number): this {
    this.ensure(12);
    this.buf.writeInt32BE(8, this.pos);
    this.writeInt64((ms - PG_EPOCH_MS) * 1000);
    return this;
  }

  /**
   * text (UTF-8). PostgreSQL text cannot hold NUL, so NUL becomes U+FFFD, as in the text-format
   * path: anything off the wire (node ids, hostnames) passes through here.
   */
  text(v: string): this {
    const s = v.includes("\0") ? v.replace(/\0/g, "\uFFFD") : v;
    this.ensure(4 + s.length * 3);
    const n = this.buf.write(s, this.pos + 4, "utf8");
    this.buf.writeInt32BE(n, this.pos);
    this.pos += 4 + n;
    return this;
  }

  /** jsonb from JSON text (binary jsonb is a version byte, 1, and the text). */
  jsonb(json: string): this {
    this.ensure(5 + json.length * 3);
    const n = this.buf.write(json, this.pos + 5, "utf8");
    this.buf.writeInt32BE(n + 1, this.pos);
    this.buf[this.pos + 4] = 1;
    this.pos += 5 + n;
    return this;
  }

  /** The whole COPY payload, with the trailer. */
  finish(): Buffer {
    this.ensure(2);
    this.buf.writeInt16BE(-1, this.pos);
    this.pos += 2;
    return this.buf.subarray(0, this.pos);
  }

  private writeInt64(v: number): void {
    if (!Number.isInteger(v) || Math.abs(v) >= 2 ** 63) throw new RangeError(`${v} is not an int8`);
    const hi = Math.floor(v / TWO_32);
    this.buf.writeInt32BE(hi, this.pos + 4);
    this.buf.writeUInt32BE(v - hi * TWO_32, this.pos + 8);
    this.pos += 12;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}
