// The per-request rows of /v1/nodes: the two queries (a page's plain statement, the whole list's
// binary COPY) and their decoding into columns. The answer is written from them by
// node-list-arena.ts.
import { COPY_BINARY_HEADER } from "../pg/binary-copy";

/** Displayed status by its number in the per-request query of the node list. */
export const LIST_STATUSES = ["unknown", "up", "down", "left", "flapping"] as const;

/**
 * The per-request rows of the node list (id, version, status number, beat ms, last seq), one
 * typed array per column: 10,000 rows as objects cost more to make and to collect than to read.
 * A null beat or sequence is NaN.
 */
export interface BeatColumns {
  readonly n: number;
  readonly id: Float64Array;
  readonly version: Float64Array;
  readonly status: Uint8Array;
  readonly beatMs: Float64Array;
  readonly lastSeq: Float64Array;
}

/** Smallest tuple: field count, two int8, a 2-byte status, three NULLs. */
const MIN_TUPLE = 2 + 12 + 12 + 6 + 4 + 4 + 4;

/** Seconds from the Unix epoch to PostgreSQL's (2000-01-01), in ms. */
const PG_EPOCH_MS = 946_684_800_000;

/** Columns with room for `cap` rows, none filled yet (`n` is 0: the filler sets it). */
export function emptyBeatColumns(cap: number): BeatColumns & { n: number } {
  return {
    n: 0,
    id: new Float64Array(cap),
    version: new Float64Array(cap),
    status: new Uint8Array(cap),
    beatMs: new Float64Array(cap),
    lastSeq: new Float64Array(cap),
  };
}

/**
 * The per-request query: raw columns in the index's key order, so PostgreSQL only copies values
 * out (status number, flapping test and beat ms are worked out here, a quarter of its time).
 */
export function beatColumnsSql(where: string, limit: number | undefined): string {
  return `SELECT id, version, status, flapping_at, last_beat_at, last_seq
            FROM node_state WHERE ${where} ORDER BY group_name, node_id
            ${limit === undefined ? "" : `LIMIT ${limit + 1}`}`;
}

/**
 * The rows of {@link beatColumnsSql} from its binary COPY output (int8, int8, text, timestamptz,
 * timestamptz, int8). A flapping mark after `flappingCutMs` shows the node as flapping.
 */
export function beatColumns(buf: Buffer, flappingCutMs: number): BeatColumns {
  const cap = Math.max(0, Math.floor((buf.length - COPY_BINARY_HEADER.length) / MIN_TUPLE));
  const cols = emptyBeatColumns(cap);
  const int8 = (at: number): number => buf.readInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
  // The SQL filter compares with the cut's ISO text (whole ms): so does the status shown.
  const cutMs = Math.floor(flappingCutMs);
  let n = 0;
  let p = COPY_BINARY_HEADER.length;
  while (p + 2 <= buf.length) {
    const fields = buf.readInt16BE(p);
    p += 2;
    if (fields === -1) break;
    if (fields !== 6) throw new Error(`node list: expected 6 fields, got ${fields}`);
    cols.id[n] = int8(p + 4);
    cols.version[n] = int8(p + 16);
    p += 24;
    const statusLen = buf.readInt32BE(p);
    const status = statusCode(buf, p + 4, statusLen);
    p += 4 + statusLen;
    let flapping = false;
    if (buf.readInt32BE(p) === 8) {
      flapping = timestampAfter(buf, p + 4, cutMs);
      p += 12;
    } else p += 4;
    cols.status[n] = flapping ? 4 : status;
    if (buf.readInt32BE(p) === 8) {
      cols.beatMs[n] = timestampMs(buf, p + 4);
      p += 12;
    } else {
      cols.beatMs[n] = NaN;
      p += 4;
    }
    if (buf.readInt32BE(p) === 8) {
      cols.lastSeq[n] = int8(p + 4);
      p += 12;
    } else {
      cols.lastSeq[n] = NaN;
      p += 4;
    }
    n++;
  }
  cols.n = n;
  return cols;
}

/**
 * The per-request query of a page (a `limit` of at most {@link PAGE_QUERY_MAX}): the same columns
 * as {@link beatColumnsSql}, with the flapping test and the beat's ms worked out by PostgreSQL, as
 * text. One statement in one round trip (no transaction, no COPY): for a hundred rows the COPY
 * stream, the BEGIN / SET / COMMIT round trips and a connection check-out were most of the time.
 * `flapping` is the SQL of the flapping test (node-list-sql's `flappingSql`).
 */
export function beatPageSql(where: string, flapping: string, limit: number): string {
  return `SELECT id, version, status, ${flapping},
                 floor(extract(epoch FROM last_beat_at) * 1000)::int8, last_seq
            FROM node_state WHERE ${where} ORDER BY group_name, node_id LIMIT ${limit + 1}`;
}

/** Largest `limit` read by {@link beatPageSql}; a larger one (or none) reads by binary COPY. */
export const PAGE_QUERY_MAX = 1000;

/** A row of {@link beatPageSql} as text: id, version, status, flapping ('t'/'f'), ms, seq. */
export type BeatPageRow = (string | null)[];

/** The rows of {@link beatPageSql} (every value text, as PostgreSQL sent it) as columns. */
export function beatColumnsOfRows(rows: readonly BeatPageRow[]): BeatColumns {
  const n = rows.length;
  const cols = emptyBeatColumns(n);
  cols.n = n;
  const num = (v: string | null | undefined): number => (v == null ? NaN : Number(v));
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    cols.id[i] = num(r[0]);
    cols.version[i] = num(r[1]);
    const s = LIST_STATUSES.indexOf(r[2] as (typeof LIST_STATUSES)[number]);
    cols.status[i] = r[3] === "t" ? 4 : Math.max(0, s);
    cols.beatMs[i] = num(r[4]);
    cols.lastSeq[i] = num(r[5]);
  }
  return cols;
}

/** node_state.status (up, down, left, unknown: the table's CHECK) as its LIST_STATUSES number. */
function statusCode(buf: Buffer, at: number, len: number): number {
  if (len === 2) return 1; // up
  if (len === 4) return buf[at] === 0x64 ? 2 : 3; // down, left
  return 0;
}

/**
 * A binary timestamptz (µs since 2000-01-01, int8) as epoch ms rounded down, exactly: the µs
 * count can exceed 2^53, so it is divided in two parts (2^32 = 4,294,967 × 1000 + 296).
 */
function timestampMs(buf: Buffer, at: number): number {
  const hi = buf.readInt32BE(at);
  const lo = buf.readUInt32BE(at + 4);
  return PG_EPOCH_MS + hi * 4_294_967 + Math.floor((hi * 296 + lo) / 1000);
}

/** Whether a binary timestamptz is later than `ms` (a whole ms), as PostgreSQL compares. */
function timestampAfter(buf: Buffer, at: number, ms: number): boolean {
  const t = timestampMs(buf, at);
  if (t !== ms) return t > ms;
  const rest = (buf.readInt32BE(at) * 296 + buf.readUInt32BE(at + 4)) % 1000;
  return rest !== 0; // the same ms: later when µs remain past it
}
