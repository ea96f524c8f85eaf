/**
 * A fingerprint of the config keys a heartbeat reports (the keys of `Heartbeat.config`, field 10
 * of konorkestra.v1.Heartbeat), read straight off the protobuf wire. STRONG writes choose their
 * voters by these keys in the node's `kon_nodes` record, so the record is rewritten as soon as
 * they change, however long its refresh period. Only the keys count: revisions change with every
 * config write and nothing reads them from the record.
 *
 * The fingerprint is order-independent (a sum of per-key FNV-1a hashes), 0 for no keys. Two key
 * sets may collide (about 1 in 2^32): the change is then written at the next periodic refresh.
 * Bytes that are not a well-formed Heartbeat give `undefined` (no opinion).
 */
export function configKeysFingerprint(bytes: Uint8Array): number | undefined {
  let pos = 0;
  const end = bytes.length;
  let sum = 0;
  const varint = (): number => {
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= end) return -1;
      const b = bytes[pos++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return n;
    }
    // Longer varints (64-bit values) are skipped, not read: only tags and lengths matter here.
    while (pos < end && bytes[pos]! & 0x80) pos++;
    pos++;
    return 0;
  };
  while (pos < end) {
    const tag = varint();
    if (tag <= 0) return undefined;
    const wt = tag & 7;
    if (wt === 0) {
      if (varint() < 0) return undefined;
    } else if (wt === 1) pos += 8;
    else if (wt === 5) pos += 4;
    else if (wt === 2) {
      const len = varint();
      if (len < 0 || len > end - pos) return undefined;
      if (tag >>> 3 === 10) {
        const key = entryKeyHash(bytes, pos, pos + len);
        if (key === undefined) return undefined;
        sum = (sum + key) >>> 0;
      }
      pos += len;
    } else return undefined;
    if (pos > end) return undefined;
  }
  return sum;
}

/** FNV-1a of the key (field 1) of one map entry in `bytes[start, end)`; the empty key if absent. */
function entryKeyHash(bytes: Uint8Array, start: number, end: number): number | undefined {
  let pos = start;
  let from = 0;
  let to = 0;
  const length = (): number | undefined => {
    let len = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      if (pos >= end) return undefined;
      const b = bytes[pos++]!;
      len |= (b & 0x7f) << shift;
      if (!(b & 0x80)) return len <= end - pos ? len : undefined;
    }
    return undefined;
  };
  while (pos < end) {
    // Map entries have fields 1 (key) and 2 (value): one-byte tags.
    const tag = bytes[pos++]!;
    const wt = tag & 7;
    if (wt === 2) {
      const len = length();
      if (len === undefined) return undefined;
      if (tag === 0x0a) [from, to] = [pos, pos + len];
      pos += len;
    } else if (wt === 0) {
      while (pos < end && bytes[pos]! & 0x80) pos++;
      pos++;
    } else return undefined;
  }
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  // Mixed once more so that a sum of hashes does not cancel along simple patterns.
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
