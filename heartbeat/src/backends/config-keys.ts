/**
 * A fingerprint of the config keys a heartbeat reports (the keys of `Heartbeat.config`, field 10
 * of konorkestra.v1.Heartbeat), read straight off the protobuf wire. STRONG writes choose their
 * voters by these keys in the node's `kon_nodes` record, so the record is rewritten as soon as
 * they change, however long its refresh period. Only the keys count: revisions change with every
 * config write and nothing reads them from the record.
 *
 * This runs on every beat of every node a monitor owns, so it only walks the top-level tags and
 * hashes the key bytes (no objects, no closures). The fingerprint is order-independent (a sum
 * of per-key hashes), 0 for no keys. Two key sets may collide (about 1 in 2^32): the change is
 * then written at the next periodic refresh. Bytes that are not a well-formed Heartbeat give
 * `undefined` (no opinion).
 */
export function configKeysFingerprint(b: Uint8Array): number | undefined {
  const end = b.length;
  let pos = 0;
  let sum = 0;
  while (pos < end) {
    let tag = b[pos++]!;
    if (tag & 0x80) {
      // Field numbers above 15: a longer tag (none of Heartbeat's, but skipped as protobuf says).
      tag &= 0x7f;
      for (let shift = 7; ; shift += 7) {
        if (pos >= end || shift > 28) return undefined;
        const c = b[pos++]!;
        tag |= (c & 0x7f) << shift;
        if (!(c & 0x80)) break;
      }
    }
    switch (tag & 7) {
      case 0:
        while (pos < end && b[pos]! & 0x80) pos++;
        pos++;
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        let len = 0;
        for (let shift = 0; ; shift += 7) {
          if (pos >= end || shift > 28) return undefined;
          const c = b[pos++]!;
          len |= (c & 0x7f) << shift;
          if (!(c & 0x80)) break;
        }
        if (len < 0 || len > end - pos) return undefined;
        if (tag === CONFIG_ENTRY) {
          const h = entryKeyHash(b, pos, pos + len);
          if (h < 0) return undefined;
          sum = (sum + h) >>> 0;
        }
        pos += len;
        break;
      }
      default:
        return undefined;
    }
  }
  return pos === end ? sum : undefined;
}

/** Tag of a `config` map entry: field 10, length-delimited. */
const CONFIG_ENTRY = (10 << 3) | 2;
/** Tag of a map entry's key: field 1, length-delimited. */
const ENTRY_KEY = (1 << 3) | 2;

/**
 * Hash of the key (field 1) of the map entry in `b[start, end)`, -1 when malformed. Encoders
 * write the key first; otherwise the entry's fields are walked to find it (absent: the empty key).
 */
function entryKeyHash(b: Uint8Array, start: number, end: number): number {
  let pos = start;
  let from = start;
  let to = start;
  while (pos < end) {
    const tag = b[pos++]!;
    const wt = tag & 7;
    if (wt === 0) {
      while (pos < end && b[pos]! & 0x80) pos++;
      pos++;
      continue;
    }
    if (wt !== 2) return -1;
    let len = 0;
    for (let shift = 0; ; shift += 7) {
      if (pos >= end || shift > 28) return -1;
      const c = b[pos++]!;
      len |= (c & 0x7f) << shift;
      if (!(c & 0x80)) break;
    }
    if (len < 0 || len > end - pos) return -1;
    if (tag === ENTRY_KEY) {
      from = pos;
      to = pos + len;
      break;
    }
    pos += len;
  }
  // FNV-1a, then mixed once more so that a sum of hashes does not cancel along simple patterns.
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) >>> 0;
}
