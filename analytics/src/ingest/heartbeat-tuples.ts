import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER } from "./binary-copy";
import { emptyWireBeat, readHeartbeat, textCheck, WireError } from "./heartbeat-wire";
import type { StreamRecord } from "./stream-record";

/** Columns of `heartbeats`, in the order {@link HeartbeatTuples.tuple} writes them. */
export const HEARTBEAT_COLUMNS = [
  "time",
  "group_name",
  "node_id",
  "seq",
  "sent_at",
  "latency_ms",
  "late",
  "interval_ms",
  "uptime_ms",
  "leaving",
  "instance_id",
  "config_set",
  "stream_seq",
] as const;

/**
 * One heartbeat as a ready binary COPY tuple (bytes [start, end) of `buf`), with what the writer
 * needs besides: the node_state gate's inputs and the message itself for the rare full decode.
 */
export interface HeartbeatTuple {
  readonly buf: Buffer;
  readonly start: number;
  readonly end: number;
  /** The message subject, `<prefix>.hb.<group>.<node>`: one per node, the gate's key. */
  readonly subject: string;
  readonly data: Uint8Array;
  readonly timeMs: number;
  readonly streamSeq: number;
  /** `config_set` of the row: 0, or an id whose revisions must be in `config_sets`. */
  readonly configSet: number;
  /** Process info, config report, interval and allowed misses, hashed (see WireBeat). */
  readonly stateHash: number;
}

const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 2 ** 32;
const ARENA_BYTES = 1 << 20;
const INT4_MAX = 2 ** 31 - 1;
const REPLACEMENT = Buffer.from("\uFFFD", "utf8");

/**
 * Turns heartbeats into binary COPY tuples as they arrive, appending them to a shared arena
 * buffer (a new one when it is full; old ones live as long as tuples point into them). Text
 * columns are copied byte for byte from the message, after a UTF-8 / NUL check, so no string is
 * decoded or encoded per heartbeat.
 *
 * Latency is receive time (the stream timestamp, server clock) minus send time (node clock); a
 * beat is late when that exceeds interval × `lateFactor`.
 */
export class HeartbeatTuples {
  private buf = Buffer.allocUnsafe(ARENA_BYTES);
  private pos = 0;
  private readonly beat = emptyWireBeat();

  constructor(private readonly lateFactor: number) {}

  /** Throws (WireError) for a message that cannot be stored; nothing is then appended. */
  tuple(rec: StreamRecord): HeartbeatTuple {
    const b = this.beat;
    const data = rec.data;
    readHeartbeat(data, b);
    if (b.intervalMs > INT4_MAX) throw new WireError(`interval_ms: ${b.intervalMs} is too large`);
    let fromSubject: string[] | undefined;
    if (b.groupEnd === b.groupStart || b.nodeEnd === b.nodeStart) {
      fromSubject = rec.subject.split(".");
      if (
        !(fromSubject[2] || b.groupEnd > b.groupStart) ||
        !(fromSubject[3] || b.nodeEnd > b.nodeStart)
      )
        throw new WireError(`heartbeat without group or node id on ${rec.subject}`);
    }
    // Worst case: fixed fields, every text byte a NUL (3 bytes as U+FFFD), subject fallbacks.
    const worst = 160 + data.length * 3 + rec.subject.length * 3;
    if (this.pos + worst > this.buf.length) {
      this.buf = Buffer.allocUnsafe(Math.max(ARENA_BYTES, worst));
      this.pos = 0;
    }
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    try {
      const sentMs = b.sentAtMs || rec.timeMs;
      const latency = rec.timeMs - sentMs;
      p = buf.writeInt16BE(HEARTBEAT_COLUMNS.length, p);
      p = int8(buf, p, (rec.timeMs - PG_EPOCH_MS) * 1000);
      p =
        b.groupEnd > b.groupStart
          ? text(buf, p, data, b.groupStart, b.groupEnd, "group")
          : str(buf, p, fromSubject![2]!);
      p =
        b.nodeEnd > b.nodeStart
          ? text(buf, p, data, b.nodeStart, b.nodeEnd, "node_id")
          : str(buf, p, fromSubject![3]!);
      p = int8(buf, p, b.seq);
      p = int8(buf, p, (sentMs - PG_EPOCH_MS) * 1000);
      p = buf.writeInt32BE(4, p);
      p = buf.writeFloatBE(latency, p);
      p = buf.writeInt32BE(1, p);
      buf[p++] = b.intervalMs > 0 && latency > b.intervalMs * this.lateFactor ? 1 : 0;
      p = buf.writeInt32BE(4, p);
      p = buf.writeInt32BE(b.intervalMs, p);
      p = int8(buf, p, b.uptimeMs);
      p = buf.writeInt32BE(1, p);
      buf[p++] = b.leaving ? 1 : 0;
      p = text(buf, p, data, b.instanceStart, b.instanceEnd, "process.instance_id");
      p = int8(buf, p, b.configSet);
      p = int8(buf, p, rec.streamSeq);
    } catch (err) {
      if (err instanceof WireError) throw err;
      throw new WireError(err instanceof Error ? err.message : String(err));
    }
    this.pos = p;
    return {
      buf,
      start,
      end: p,
      subject: rec.subject,
      data,
      timeMs: rec.timeMs,
      streamSeq: rec.streamSeq,
      configSet: b.configSet,
      stateHash: b.stateHash,
    };
  }
}

/** One binary COPY payload of the tuples: runs that lie back to back in an arena are copied at once. */
export function tuplesPayload(rows: readonly HeartbeatTuple[]): Buffer {
  let size = COPY_BINARY_HEADER.length + COPY_BINARY_TRAILER.length;
  for (const r of rows) size += r.end - r.start;
  const out = Buffer.allocUnsafe(size);
  let p = COPY_BINARY_HEADER.copy(out, 0);
  let run: HeartbeatTuple | undefined;
  let runEnd = 0;
  for (const r of rows) {
    if (run && r.buf === run.buf && r.start === runEnd) {
      runEnd = r.end;
      continue;
    }
    if (run) p += run.buf.copy(out, p, run.start, runEnd);
    run = r;
    runEnd = r.end;
  }
  if (run) p += run.buf.copy(out, p, run.start, runEnd);
  COPY_BINARY_TRAILER.copy(out, p);
  return out;
}

/** An int8 field; RangeError outside ±2^63 or for a non-integer (the row is then refused). */
function int8(buf: Buffer, p: number, v: number): number {
  if (!Number.isInteger(v) || Math.abs(v) >= 2 ** 63) throw new WireError(`${v} is not an int8`);
  const hi = Math.floor(v / TWO_32);
  buf.writeInt32BE(8, p);
  buf.writeInt32BE(hi, p + 4);
  buf.writeUInt32BE(v - hi * TWO_32, p + 8);
  return p + 12;
}

/** A text field copied from the message; NUL becomes U+FFFD (PostgreSQL text cannot hold it). */
function text(
  buf: Buffer,
  p: number,
  data: Uint8Array,
  start: number,
  end: number,
  field: string,
): number {
  const check = textCheck(data, start, end);
  if (check === "invalid") throw new WireError(`${field} is not valid UTF-8`);
  const lenAt = p;
  p += 4;
  if (check === "ok") {
    for (let i = start; i < end; i++) buf[p++] = data[i]!;
  } else {
    for (let i = start; i < end; i++) {
      if (data[i] === 0) p += REPLACEMENT.copy(buf, p);
      else buf[p++] = data[i]!;
    }
  }
  buf.writeInt32BE(p - lenAt - 4, lenAt);
  return p;
}

function str(buf: Buffer, p: number, s: string): number {
  const n = buf.write(s.replace(/\0/g, "\uFFFD"), p + 4, "utf8");
  buf.writeInt32BE(n, p);
  return p + 4 + n;
}
