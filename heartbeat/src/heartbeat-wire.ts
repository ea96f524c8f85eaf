import { Heartbeat, decodeMessage } from "@konorkestra/proto";

/**
 * The fields of a heartbeat the monitor judges by, read straight off the protobuf wire
 * (konorkestra.v1.Heartbeat in proto/konorkestra/v1/liveness.proto) without building the message:
 * this is the per-beat work at 10,000+ beats per second, and the full message (process info,
 * config report, meta) is only needed for an event or the nodes API, so it is decoded lazily
 * ({@link HeartbeatBody}). Unknown fields are skipped by wire type, as protobuf requires.
 */
export interface WireHeartbeat {
  /** `group` (field 1), empty when absent; compared in place, decoded only for a message. */
  group: WireString;
  /** `node_id` (field 2), empty when absent. */
  nodeId: WireString;
  /** `sent_at_ms` (field 4), the sender's clock; 0 when absent. */
  sentAtMs: number;
  intervalMs: number;
  allowedMisses: number;
  leaving: boolean;
  /** `process.instance_id` (field 9.7). */
  instanceId: string;
  /** UTF-8 bytes of `meta` keys plus values, as the meta limit counts them. */
  metaBytes: number;
}

/** A string field left in the message bytes: names are compared, not decoded, per beat. */
export class WireString {
  constructor(
    private readonly bytes: Uint8Array,
    private readonly start: number,
    readonly length: number,
  ) {}

  /** Byte-wise equality with `s` (ASCII fast path; anything else is decoded). */
  equals(s: string): boolean {
    if (s.length > this.length) return false;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) return this.text() === s;
      if (this.bytes[this.start + i] !== c) return false;
    }
    return s.length === this.length;
  }

  text(): string {
    return this.length === 0
      ? ""
      : utf8.decode(this.bytes.subarray(this.start, this.start + this.length));
  }
}

const NO_STRING = new WireString(new Uint8Array(), 0, 0);

/** A body that is not a valid Heartbeat; the message names the field. */
export class WireError extends Error {}

const TWO_32 = 2 ** 32;
const utf8 = new TextDecoder("utf-8");

/** A cursor over one message; a class (not closures) so a read allocates one small object. */
class Reader {
  pos: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  byte(field: string): number {
    if (this.pos >= this.end) throw new WireError(`${field}: truncated varint`);
    return this.bytes[this.pos++]!;
  }

  /** A varint as a number; int64 two's complement when `signed` (exact to 2^53). */
  varint(field: string, signed = false): number {
    let lo = 0;
    let b = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte(field);
      lo |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return lo >>> 0;
    }
    b = this.byte(field);
    lo |= (b & 0x0f) << 28;
    let hi = (b & 0x7f) >> 4;
    for (let shift = 3; b & 0x80; shift += 7) {
      if (shift > 31) throw new WireError(`${field}: varint longer than 10 bytes`);
      b = this.byte(field);
      hi |= (b & 0x7f) << shift;
    }
    lo >>>= 0;
    hi >>>= 0;
    if (signed && hi >= 0x80000000) return -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1);
    return hi * TWO_32 + lo;
  }

  length(field: string): number {
    const n = this.varint(field);
    if (n > this.end - this.pos) throw new WireError(`${field}: length ${n} runs past the end`);
    return n;
  }

  /** A length-delimited field kept in place. */
  wireString(field: string): WireString {
    const n = this.length(field);
    const w = new WireString(this.bytes, this.pos, n);
    this.pos += n;
    return w;
  }

  string(field: string): string {
    const n = this.length(field);
    const s = n === 0 ? "" : utf8.decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }

  skip(wireType: number, field: string): void {
    switch (wireType) {
      case 0:
        this.varint(field);
        return;
      case 1:
        this.pos += 8;
        break;
      case 2: {
        const n = this.length(field); // not `pos += length()`: that adds to pos as read before
        this.pos += n;
        return;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        throw new WireError(`${field}: unsupported wire type ${wireType}`);
    }
    if (this.pos > this.end) throw new WireError(`${field}: truncated`);
  }
}

/** Reads the fields the monitor needs; throws {@link WireError} on bytes that are not a Heartbeat. */
export function readWireHeartbeat(bytes: Uint8Array): WireHeartbeat {
  const out: WireHeartbeat = {
    group: NO_STRING,
    nodeId: NO_STRING,
    sentAtMs: 0,
    intervalMs: 0,
    allowedMisses: 0,
    leaving: false,
    instanceId: "",
    metaBytes: 0,
  };
  const r = new Reader(bytes, 0, bytes.length);
  while (r.pos < r.end) {
    const tag = r.varint("tag");
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 0) throw new WireError("invalid tag 0");
    if (field === 1 && wt === 2) out.group = r.wireString("group");
    else if (field === 2 && wt === 2) out.nodeId = r.wireString("node_id");
    else if (field === 4 && wt === 0) out.sentAtMs = r.varint("sent_at_ms", true);
    else if (field === 6 && wt === 0) out.intervalMs = r.varint("interval_ms") >>> 0;
    else if (field === 7 && wt === 0) out.allowedMisses = r.varint("allowed_misses") >>> 0;
    else if (field === 8 && wt === 0) out.leaving = r.varint("leaving") !== 0;
    else if (field === 9 && wt === 2) out.instanceId = readInstanceId(r) ?? out.instanceId;
    else if (field === 11 && wt === 2) out.metaBytes += readMetaEntryBytes(r);
    else r.skip(wt, `field ${field}`);
  }
  return out;
}

/** `ProcessInfo.instance_id` (field 7) of the sub-message at the cursor. */
function readInstanceId(r: Reader): string | undefined {
  const n = r.length("process");
  const end = r.pos + n;
  const sub = new Reader(r.bytes, r.pos, end);
  let id: string | undefined;
  while (sub.pos < end) {
    const tag = sub.varint("process tag");
    if (tag >>> 3 === 7 && (tag & 7) === 2) id = sub.string("process.instance_id");
    else sub.skip(tag & 7, "process field");
  }
  r.pos = end;
  return id;
}

/** Key plus value length of one `meta` map entry. */
function readMetaEntryBytes(r: Reader): number {
  const len = r.length("meta");
  const end = r.pos + len;
  const sub = new Reader(r.bytes, r.pos, end);
  let n = 0;
  while (sub.pos < end) {
    const tag = sub.varint("meta tag");
    if ((tag & 7) === 2 && (tag >>> 3 === 1 || tag >>> 3 === 2)) {
      const l = sub.length("meta entry");
      n += l;
      sub.pos += l;
    } else sub.skip(tag & 7, "meta field");
  }
  r.pos = end;
  return n;
}

/**
 * The bytes of a stored heartbeat with its message decoded on first use (for an event or the
 * nodes API), at most once.
 */
export class HeartbeatBody {
  private decoded: Heartbeat | undefined;

  constructor(readonly bytes: Uint8Array) {}

  /** The message; a body the reader accepted but protobufjs does not yields an empty one. */
  get message(): Heartbeat {
    if (this.decoded === undefined) {
      try {
        this.decoded = decodeMessage(Heartbeat, this.bytes);
      } catch {
        this.decoded = decodeMessage(Heartbeat, new Uint8Array());
      }
    }
    return this.decoded;
  }

  /** A body of an already-decoded message (seeds, tests). */
  static of(message: Heartbeat, bytes: Uint8Array): HeartbeatBody {
    const b = new HeartbeatBody(bytes);
    b.decoded = message;
    return b;
  }
}
