/**
 * A heartbeat read straight off the protobuf wire (konorkestra.v1.Heartbeat), without building
 * the message object: offsets of the text fields in the message bytes, the numbers, and two
 * hashes. This is the per-message work of the ingest at up to 100,000 heartbeats per second, so
 * it allocates nothing; the full decode (protobufjs, node-state-row.ts) is kept for the few beats
 * that update node_state or bring a config set not seen before.
 *
 * Field numbers are those of proto/konorkestra/v1/liveness.proto and config.proto; unknown fields
 * are skipped by wire type, as protobuf requires.
 */
export interface WireBeat {
  groupStart: number;
  groupEnd: number;
  nodeStart: number;
  nodeEnd: number;
  instanceStart: number;
  instanceEnd: number;
  seq: number;
  sentAtMs: number;
  uptimeMs: number;
  intervalMs: number;
  allowedMisses: number;
  leaving: boolean;
  /** Config keys reported. */
  configKeys: number;
  /**
   * Identity of the set of (config key, revision) pairs the node runs, independent of their
   * order: the `config_set` column. 0 for a node that reports no config.
   */
  configSet: number;
  /**
   * Hash of everything node_state keeps besides the beat itself (process info, the full config
   * report, interval, allowed misses): when it is unchanged only the beat columns need writing.
   */
  stateHash: number;
}

/** A heartbeat that is not valid protobuf, or not a Heartbeat: the reason names the field. */
export class WireError extends Error {}

export function emptyWireBeat(): WireBeat {
  return {
    groupStart: 0,
    groupEnd: 0,
    nodeStart: 0,
    nodeEnd: 0,
    instanceStart: 0,
    instanceEnd: 0,
    seq: 0,
    sentAtMs: 0,
    uptimeMs: 0,
    intervalMs: 0,
    allowedMisses: 0,
    leaving: false,
    configKeys: 0,
    configSet: 0,
    stateHash: 0,
  };
}

const TWO_32 = 2 ** 32;

/** Reader state: kept in module scope so that reading allocates nothing. */
let bytes: Uint8Array = new Uint8Array(0);
let pos = 0;

function next(field: string): number {
  if (pos >= bytes.length) throw new WireError(`${field}: truncated varint`);
  return bytes[pos++]!;
}

/**
 * A varint as a number: uint64 (exact to 2^53, as protobufjs' Long → Number), or with `signed`
 * an int64 in two's complement (a negative number is ten bytes on the wire).
 */
function varint(field: string, signed = false): number {
  let lo = 0;
  let b = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    b = next(field);
    lo |= (b & 0x7f) << shift;
    if (!(b & 0x80)) return lo;
  }
  b = next(field);
  lo |= (b & 0x0f) << 28;
  let hi = (b & 0x7f) >> 4;
  for (let shift = 3; b & 0x80; shift += 7) {
    if (shift > 31) throw new WireError(`${field}: varint longer than 10 bytes`);
    b = next(field);
    hi |= (b & 0x7f) << shift;
  }
  lo >>>= 0;
  hi >>>= 0;
  if (signed && hi >= 0x80000000) return -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1);
  return hi * TWO_32 + lo;
}

/** An int64 varint. */
function int64(field: string): number {
  return varint(field, true);
}

/** Length of a length-delimited field, checked against the bytes left. */
function length(field: string, end: number): number {
  const n = varint(field);
  if (n > end - pos) throw new WireError(`${field}: length ${n} runs past the end of the message`);
  return n;
}

function skip(wireType: number, field: string, end: number): void {
  switch (wireType) {
    case 0:
      varint(field);
      return;
    case 1:
      pos += 8;
      break;
    case 2: {
      const n = length(field, end); // not `pos += length()`: that adds to pos as read before
      pos += n;
      return;
    }
    case 5:
      pos += 4;
      break;
    default:
      throw new WireError(`${field}: unsupported wire type ${wireType}`);
  }
  if (pos > end) throw new WireError(`${field}: truncated`);
}

// Two 32-bit lanes of a MurmurHash3-style mix (4 bytes per step) give a 53-bit hash (exact in a
// float, and a bigint column): collisions among a fleet's few thousand config sets are not a
// concern. The lanes differ in rotation and constants so that they do not move together.
let h1 = 0;
let h2 = 0;

function hashReset(): void {
  h1 = 0x811c9dc5;
  h2 = 0x01000193;
}

function mixWord(w: number): void {
  let k = Math.imul(w, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h1 ^= k;
  h1 = (h1 << 13) | (h1 >>> 19);
  h1 = (Math.imul(h1, 5) + 0xe6546b64) | 0;
  h2 ^= k;
  h2 = (h2 << 17) | (h2 >>> 15);
  h2 = (Math.imul(h2, 0x85ebca6b) + 0x52dce729) | 0;
}

function hashBytes(start: number, end: number): void {
  let i = start;
  for (; i + 4 <= end; i += 4) {
    mixWord(bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24));
  }
  let tail = end - start; // the length, so that trailing zero bytes still count
  for (; i < end; i++) tail = (tail << 8) | bytes[i]!;
  mixWord(tail);
}

// The state hash runs over several fields, between which h1/h2 serve the per-entry set hashes.
let s1 = 0;
let s2 = 0;

function hashState(start: number, end: number): void {
  h1 = s1;
  h2 = s2;
  hashBytes(start, end);
  s1 = h1;
  s2 = h2;
}

function hashNumber(v: number): void {
  mixWord(v >>> 0);
  mixWord(Math.floor(v / TWO_32) >>> 0);
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

function hashValue(): number {
  return (fmix(h2) & 0x1fffff) * TWO_32 + (fmix(h1) >>> 0);
}

/**
 * Reads `data` (a Heartbeat) into `out`. Throws a {@link WireError} for bytes that are not a
 * Heartbeat; `out` is then partly overwritten.
 */
export function readHeartbeat(data: Uint8Array, out: WireBeat): void {
  try {
    readFields(data, out);
  } catch (err) {
    if (err instanceof WireError)
      throw new WireError(`invalid konorkestra.v1.Heartbeat: ${err.message}`);
    throw err;
  }
}

function readFields(data: Uint8Array, out: WireBeat): void {
  bytes = data;
  pos = 0;
  out.groupStart = out.groupEnd = out.nodeStart = out.nodeEnd = 0;
  out.instanceStart = out.instanceEnd = 0;
  out.seq = out.sentAtMs = out.uptimeMs = out.intervalMs = out.allowedMisses = 0;
  out.leaving = false;
  out.configKeys = 0;
  // Set: a sum of per-entry hashes (order-free); state: a running hash of the raw bytes.
  let setLo = 0;
  let setHi = 0;
  s1 = 0x811c9dc5;
  s2 = 0x01000193;
  const end = data.length;
  while (pos < end) {
    const tag = varint("tag");
    const field = tag >>> 3;
    const wt = tag & 7;
    if (field === 1 && wt === 2) {
      const n = length("group", end);
      out.groupStart = pos;
      out.groupEnd = pos += n;
    } else if (field === 2 && wt === 2) {
      const n = length("node_id", end);
      out.nodeStart = pos;
      out.nodeEnd = pos += n;
    } else if (field === 3 && wt === 0) out.seq = varint("seq");
    else if (field === 4 && wt === 0) out.sentAtMs = int64("sent_at_ms");
    else if (field === 5 && wt === 0) out.uptimeMs = int64("uptime_ms");
    else if (field === 6 && wt === 0) out.intervalMs = varint("interval_ms") >>> 0;
    else if (field === 7 && wt === 0) out.allowedMisses = varint("allowed_misses") >>> 0;
    else if (field === 8 && wt === 0) out.leaving = varint("leaving") !== 0;
    else if (field === 9 && wt === 2) {
      const n = length("process", end); // before reading pos: length() moves it
      const pEnd = pos + n;
      hashState(pos, pEnd);
      readProcess(pEnd, out);
    } else if (field === 10 && wt === 2) {
      const n = length("config", end);
      const eEnd = pos + n;
      hashState(pos, eEnd);
      readConfigEntry(eEnd);
      setLo = (setLo + fmix(h1)) >>> 0;
      setHi = (setHi + fmix(h2)) >>> 0;
      out.configKeys++;
    } else skip(wt, `field ${field}`, end);
  }
  if (pos !== end) throw new WireError("message: truncated");
  out.configSet = out.configKeys === 0 ? 0 : (setHi & 0x1fffff) * TWO_32 + (setLo >>> 0) || 1;
  h1 = s1;
  h2 = s2;
  hashNumber(out.intervalMs);
  hashNumber(out.allowedMisses);
  out.stateHash = hashValue();
}

/** ProcessInfo: only instance_id (7) is a column of heartbeats. */
function readProcess(end: number, out: WireBeat): void {
  while (pos < end) {
    const tag = varint("process tag");
    if (tag === ((7 << 3) | 2)) {
      const n = length("process.instance_id", end);
      out.instanceStart = pos;
      out.instanceEnd = pos += n;
    } else skip(tag & 7, `process field ${tag >>> 3}`, end);
  }
  if (pos !== end) throw new WireError("process: truncated");
}

/** One config map entry (key 1, ConfigRevision 2 with revision 1); leaves its hash in h1/h2. */
function readConfigEntry(end: number): void {
  let keyStart = 0;
  let keyEnd = 0;
  let revision = 0;
  while (pos < end) {
    const tag = varint("config entry tag");
    if (tag === ((1 << 3) | 2)) {
      const n = length("config key", end);
      keyStart = pos;
      keyEnd = pos += n;
    } else if (tag === ((2 << 3) | 2)) {
      const n = length("config revision", end);
      const rEnd = pos + n;
      while (pos < rEnd) {
        const t = varint("config revision tag");
        if (t === ((1 << 3) | 0)) revision = varint("config revision");
        else skip(t & 7, `config revision field ${t >>> 3}`, rEnd);
      }
      if (pos !== rEnd) throw new WireError("config revision: truncated");
    } else skip(tag & 7, `config entry field ${tag >>> 3}`, end);
  }
  if (pos !== end) throw new WireError("config entry: truncated");
  hashReset();
  hashBytes(keyStart, keyEnd);
  hashNumber(revision);
}
