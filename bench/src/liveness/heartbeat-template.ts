import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { buildHeartbeat } from "@konorkestra/sdk/internal";
import type { AppliedRevision, HeartbeatIdentity } from "@konorkestra/sdk/internal";

/** Wire type 0 (varint) tags of `Heartbeat.seq` (3), `sent_at_ms` (4) and `uptime_ms` (5). */
const TAG_SEQ = 3 << 3;
const TAG_SENT_AT = 4 << 3;
const TAG_UPTIME = 5 << 3;
/** Tag byte plus the longest varint of a non-negative safe integer (2^53 needs 8 bytes). */
const MAX_FIELD = 1 + 10;

/**
 * One node's heartbeat, encoded once and patched per beat. Of the fields the SDK's
 * `buildHeartbeat` fills, only `seq`, `sent_at_ms` and `uptime_ms` (fields 3 to 5, next to each
 * other in field order, which is protobuf's encoding order) change between two beats of one
 * process with the same applied configs; everything before them (`group`, `node_id`) and after
 * them (interval, misses, process, config, meta) is fixed bytes. A beat is those bytes with the
 * three varints in between, each left out when 0 as proto3 does: byte for byte what
 * `encodeMessage(Heartbeat, buildHeartbeat(...))` gives for the same values (unit-tested).
 */
export class HeartbeatTemplate {
  private readonly head: Uint8Array;
  private readonly tail: Uint8Array;
  /** The longest a beat of this node can be. */
  readonly maxBytes: number;

  constructor(identity: HeartbeatIdentity, applied: Record<string, AppliedRevision>) {
    const base = buildHeartbeat(identity, { seq: 0, sentAtMs: 0, leaving: false, applied });
    const whole = encodeMessage(Heartbeat, { ...base, uptimeMs: 0 });
    this.head = encodeMessage(Heartbeat, { group: base.group, nodeId: base.nodeId });
    if (!startsWith(whole, this.head)) {
      throw new Error("heartbeat template: group and node_id are not the encoding's first bytes");
    }
    this.tail = whole.slice(this.head.length);
    this.maxBytes = this.head.length + 3 * MAX_FIELD + this.tail.length;
  }

  /**
   * Writes the beat into `out` at `offset` (room for {@link maxBytes} needed) and returns its
   * length. Values must be whole and non-negative (a seq, unix ms, an uptime).
   */
  write(out: Uint8Array, offset: number, seq: number, sentAtMs: number, uptimeMs: number): number {
    out.set(this.head, offset);
    let at = offset + this.head.length;
    at = field(out, at, TAG_SEQ, seq);
    at = field(out, at, TAG_SENT_AT, sentAtMs);
    at = field(out, at, TAG_UPTIME, uptimeMs);
    out.set(this.tail, at);
    return at + this.tail.length - offset;
  }

  /** Bytes {@link write} will take for these values. */
  byteLength(seq: number, sentAtMs: number, uptimeMs: number): number {
    return (
      this.head.length +
      fieldSize(seq) +
      fieldSize(sentAtMs) +
      fieldSize(uptimeMs) +
      this.tail.length
    );
  }

  /** The beat in a buffer of its own. */
  encode(seq: number, sentAtMs: number, uptimeMs: number): Uint8Array {
    const buf = new Uint8Array(this.maxBytes);
    return buf.subarray(0, this.write(buf, 0, seq, sentAtMs, uptimeMs));
  }
}

function startsWith(a: Uint8Array, prefix: Uint8Array): boolean {
  if (prefix.length > a.length) return false;
  for (let i = 0; i < prefix.length; i++) if (a[i] !== prefix[i]) return false;
  return true;
}

/** Bytes of a varint field (tag byte and value), 0 for a 0 value. */
function fieldSize(value: number): number {
  let n = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 0x80);
    n++;
  }
  return value === 0 && n === 1 ? 0 : 1 + n;
}

/** A varint field (tag, value), left out when the value is 0 (proto3 default). */
function field(out: Uint8Array, at: number, tag: number, value: number): number {
  if (value === 0) return at;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`heartbeat template: ${value} is not a whole non-negative number`);
  }
  out[at++] = tag;
  // Above 2^31 bit operators would truncate: divide instead.
  while (value > 0x7f) {
    out[at++] = (value % 0x80) | 0x80;
    value = Math.floor(value / 0x80);
  }
  out[at++] = value;
  return at;
}
