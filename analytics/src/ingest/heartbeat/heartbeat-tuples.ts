import type { WireNames } from "@konorkestra/sdk/internal";
import {
  COPY_BINARY_HEADER,
  COPY_BINARY_TRAILER,
  asciiField,
  int8Field,
  textField,
} from "../../pg/binary-copy";
import { claimedTime } from "../../model/time-window";
import type { StreamRecord } from "../stream-record";
import { WireError, emptyWireBeat, readHeartbeat } from "./heartbeat-wire";
import type { WireBeat } from "./heartbeat-wire";

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
  /** Group and node, read from the subject (validated). */
  readonly group: string;
  readonly node: string;
  readonly data: Uint8Array;
  readonly timeMs: number;
  readonly streamSeq: number;
  /** `config_set` of the row: 0, or an id whose revisions must be in `config_sets`. */
  readonly configSet: number;
  /** The beat's own seq and send time (claimed, as stored): a beat-only node_state update needs no decode. */
  readonly seq: number;
  readonly sentMs: number;
  /** Process info, config report, interval and allowed misses, hashed (see WireBeat). */
  readonly stateHash: number;
}

const PG_EPOCH_MS = 946_684_800_000;
const ARENA_BYTES = 1 << 20;
const INT4_MAX = 2 ** 31 - 1;

/**
 * Turns heartbeats into binary COPY tuples as they arrive, appending them to a shared arena
 * buffer (a new one when it is full; old ones live as long as tuples point into them). Text
 * columns are copied byte for byte from the message, after a UTF-8 / NUL check, so no string is
 * decoded or encoded per heartbeat.
 *
 * Group and node come from the subject, validated by the sdk's parser: a subject that is not
 * `<prefix>.hb.<group>.<node>` with valid names, or a payload that names another group or node,
 * makes the message a reject (the payload may leave both out).
 *
 * Latency is receive time (the stream timestamp, server clock) minus send time (node clock); a
 * beat is late when that exceeds interval × `lateFactor`.
 */
export class HeartbeatTuples {
  private buf = Buffer.allocUnsafe(ARENA_BYTES);
  private pos = 0;
  private readonly beat = emptyWireBeat();

  constructor(
    private readonly names: WireNames,
    private readonly lateFactor: number,
  ) {}

  /** Throws (WireError) for a message that cannot be stored; nothing is then appended. */
  tuple(rec: StreamRecord): HeartbeatTuple {
    const address = this.names.checkHeartbeatSubject(rec.subject);
    if (!address.ok) throw new WireError(`invalid heartbeat subject: ${address.detail}`);
    const { group, node } = address;
    const b = this.beat;
    const data = rec.data;
    // Every sender (the SDK, the monitor's HTTP ingest) fills sent_at_ms and interval_ms: an
    // empty message is a reachability ping at most, not a proof that a configured node lives.
    if (data.length === 0)
      throw new WireError("empty heartbeat: a beat carries at least its timing");
    readHeartbeat(data, b);
    if (b.intervalMs > INT4_MAX) throw new WireError(`interval_ms: ${b.intervalMs} is too large`);
    if (!payloadAgrees(data, b, group, node)) {
      const text = (s: number, e: number): string => Buffer.from(data.subarray(s, e)).toString();
      throw new WireError(
        `payload names ${text(b.groupStart, b.groupEnd)}.${text(b.nodeStart, b.nodeEnd)}, ` +
          `subject names ${group}.${node}`,
      );
    }
    // Worst case: fixed fields, every text byte of the message a NUL (3 bytes as U+FFFD), names.
    const worst = 160 + data.length * 3 + rec.subject.length;
    if (this.pos + worst > this.buf.length) {
      this.buf = Buffer.allocUnsafe(Math.max(ARENA_BYTES, worst));
      this.pos = 0;
    }
    const buf = this.buf;
    const start = this.pos;
    let p = start;
    let sentMs: number;
    try {
      sentMs = claimedTime(b.sentAtMs, rec.timeMs);
      const latency = rec.timeMs - sentMs;
      p = buf.writeInt16BE(HEARTBEAT_COLUMNS.length, p);
      p = int8Field(buf, p, (rec.timeMs - PG_EPOCH_MS) * 1000);
      p = asciiField(buf, p, group);
      p = asciiField(buf, p, node);
      p = int8Field(buf, p, b.seq);
      p = int8Field(buf, p, (sentMs - PG_EPOCH_MS) * 1000);
      p = buf.writeInt32BE(4, p);
      p = buf.writeFloatBE(latency, p);
      p = buf.writeInt32BE(1, p);
      buf[p++] = b.intervalMs > 0 && latency > b.intervalMs * this.lateFactor ? 1 : 0;
      p = buf.writeInt32BE(4, p);
      p = buf.writeInt32BE(b.intervalMs, p);
      p = int8Field(buf, p, b.uptimeMs);
      p = buf.writeInt32BE(1, p);
      buf[p++] = b.leaving ? 1 : 0;
      p = textField(buf, p, data, b.instanceStart, b.instanceEnd, "process.instance_id");
      p = int8Field(buf, p, b.configSet);
      p = int8Field(buf, p, rec.streamSeq);
    } catch (err) {
      throw new WireError(err instanceof Error ? err.message : String(err));
    }
    this.pos = p;
    return {
      buf,
      start,
      end: p,
      subject: rec.subject,
      group,
      node,
      data,
      timeMs: rec.timeMs,
      streamSeq: rec.streamSeq,
      configSet: b.configSet,
      seq: b.seq,
      sentMs,
      stateHash: b.stateHash,
    };
  }
}

/** Whether the payload's group and node, where it names them, are the subject's. */
function payloadAgrees(data: Uint8Array, b: WireBeat, group: string, node: string): boolean {
  return (
    sameAscii(data, b.groupStart, b.groupEnd, group) &&
    sameAscii(data, b.nodeStart, b.nodeEnd, node)
  );
}

/** True when bytes [start, end) are empty or spell `s` (ASCII). */
function sameAscii(data: Uint8Array, start: number, end: number, s: string): boolean {
  if (start === end) return true;
  if (end - start !== s.length) return false;
  for (let i = 0; i < s.length; i++) if (data[start + i] !== s.charCodeAt(i)) return false;
  return true;
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
