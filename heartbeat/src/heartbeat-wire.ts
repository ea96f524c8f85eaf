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

/**
 * A cursor over one message; a class (not closures). One instance is reused for every read (reads
 * are synchronous and never nest): a sub-message is read by narrowing `end` and restoring it.
 */
class Reader {
  pos = 0;
  bytes: Uint8Array = new Uint8Array();
  end = 0;

  reset(bytes: Uint8Array, start: number, end: number): this {
    this.bytes = bytes;
    this.pos = start;
    this.end = end;
    return this;
  }

  byte(field: string): number {
    if (this.pos >= this.end) throw new WireError(`${field}: truncated varint`);
    return this.bytes[this.pos++]!;
  }

  /** A varint as a number; int64 two's complement when `signed` (exact to 2^53). */
  varint(field: string, signed = false): number {
    // One byte (every tag and small number of a heartbeat): no loop.
    const first = this.pos < this.end ? this.bytes[this.pos]! : 0x80;
    if (first < 0x80) {
      this.pos += 1;
      return first;
    }
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

  /** A string field; `same` is returned when the bytes spell it (ASCII), saving the decode. */
  string(field: string, same?: string): string {
    const n = this.length(field);
    const start = this.pos;
    this.pos += n;
    if (same !== undefined && same.length === n && asciiEquals(this.bytes, start, same)) {
      return same;
    }
    return n === 0 ? "" : utf8.decode(this.bytes.subarray(start, start + n));
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

/** True when `s` (all ASCII) is spelled by the bytes at `start` (the caller checked the length). */
function asciiEquals(bytes: Uint8Array, start: number, s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 0x7f || bytes[start + i] !== c) return false;
  }
  return true;
}

/** The one cursor of every read (see {@link Reader}). */
const reader = new Reader();

/** A WireHeartbeat to be filled by {@link readWireHeartbeat}. */
export function emptyWireHeartbeat(): WireHeartbeat {
  return {
    group: NO_STRING,
    nodeId: NO_STRING,
    sentAtMs: 0,
    intervalMs: 0,
    allowedMisses: 0,
    leaving: false,
    instanceId: "",
    metaBytes: 0,
  };
}

/**
 * Reads the fields the monitor needs; throws {@link WireError} on bytes that are not a Heartbeat.
 * @param out filled and returned (every field is set): a caller reading beat after beat reuses one
 * @param sameInstanceId the instance id this sender had last time: when the bytes spell it, that
 *   string is taken instead of decoding a new one
 */
export function readWireHeartbeat(
  bytes: Uint8Array,
  out: WireHeartbeat = emptyWireHeartbeat(),
  sameInstanceId?: string,
): WireHeartbeat {
  out.group = NO_STRING;
  out.nodeId = NO_STRING;
  out.sentAtMs = 0;
  out.intervalMs = 0;
  out.allowedMisses = 0;
  out.leaving = false;
  out.instanceId = "";
  out.metaBytes = 0;
  const r = reader.reset(bytes, 0, bytes.length);
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
    else if (field === 9 && wt === 2) {
      out.instanceId = readInstanceId(r, sameInstanceId) ?? out.instanceId;
    } else if (field === 11 && wt === 2) out.metaBytes += readMetaEntryBytes(r);
    else r.skip(wt, `field ${field}`);
  }
  return out;
}

/** `ProcessInfo.instance_id` (field 7) of the sub-message at the cursor. */
function readInstanceId(r: Reader, same: string | undefined): string | undefined {
  const n = r.length("process");
  const end = r.pos + n;
  const outerEnd = r.end;
  r.end = end;
  let id: string | undefined;
  while (r.pos < end) {
    const tag = r.varint("process tag");
    if (tag >>> 3 === 7 && (tag & 7) === 2) id = r.string("process.instance_id", same);
    else r.skip(tag & 7, "process field");
  }
  r.end = outerEnd;
  r.pos = end;
  return id;
}

/** Key plus value length of one `meta` map entry. */
function readMetaEntryBytes(r: Reader): number {
  const len = r.length("meta");
  const end = r.pos + len;
  const outerEnd = r.end;
  r.end = end;
  let n = 0;
  while (r.pos < end) {
    const tag = r.varint("meta tag");
    if ((tag & 7) === 2 && (tag >>> 3 === 1 || tag >>> 3 === 2)) {
      const l = r.length("meta entry");
      n += l;
      r.pos += l;
    } else r.skip(tag & 7, "meta field");
  }
  r.end = outerEnd;
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
