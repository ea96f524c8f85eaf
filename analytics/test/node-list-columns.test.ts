import { COPY_BINARY_HEADER, COPY_BINARY_TRAILER } from "../src/pg/binary-copy";
import { LIST_STATUSES, beatColumns, beatColumnsOfRows } from "../src/store/node-list-columns";

// The per-request rows of /v1/nodes decoded without PostgreSQL: the binary COPY rows of the whole
// list (raw timestamptz in µs since 2000) and the text rows of a page. The answer written from
// them is node-list-arena.test's.

const PG_EPOCH_US = 946_684_800_000_000n;

function int8(v: bigint): Buffer {
  const b = Buffer.alloc(12);
  b.writeInt32BE(8, 0);
  b.writeBigInt64BE(v, 4);
  return b;
}
const NULL = (): Buffer => Buffer.from([0xff, 0xff, 0xff, 0xff]);
const text = (s: string): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(Buffer.byteLength(s), 0);
  return Buffer.concat([b, Buffer.from(s)]);
};
/** A timestamptz field for an epoch time in µs. */
const ts = (epochUs: bigint | null): Buffer =>
  epochUs === null ? NULL() : int8(epochUs - PG_EPOCH_US);

interface Row {
  id: number;
  status: string;
  flappingUs: bigint | null;
  beatUs: bigint | null;
  seq: bigint | null;
}

function copyOf(rows: Row[]): Buffer {
  const parts: Buffer[] = [COPY_BINARY_HEADER];
  for (const r of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(6, 0);
    parts.push(count, int8(BigInt(r.id)), int8(7n), text(r.status));
    parts.push(ts(r.flappingUs), ts(r.beatUs), r.seq === null ? NULL() : int8(r.seq));
  }
  parts.push(COPY_BINARY_TRAILER);
  return Buffer.concat(parts);
}

const CUT_MS = 1_796_000_000_123;
const CUT_US = BigInt(CUT_MS) * 1000n;

test("statuses and the flapping cut read as PostgreSQL compares them, to the µs", () => {
  const rows: Row[] = [
    { id: 1, status: "up", flappingUs: null, beatUs: null, seq: null },
    { id: 2, status: "down", flappingUs: CUT_US, beatUs: null, seq: null }, // at the cut: not after
    { id: 3, status: "left", flappingUs: CUT_US + 1n, beatUs: null, seq: null }, // 1 µs after
    { id: 4, status: "unknown", flappingUs: CUT_US - 1n, beatUs: null, seq: null },
    { id: 5, status: "up", flappingUs: CUT_US + 1000n, beatUs: null, seq: null },
  ];
  const cols = beatColumns(copyOf(rows), CUT_MS);
  expect(cols.n).toBe(5);
  expect([...cols.status.subarray(0, 5)].map((s) => LIST_STATUSES[s])).toEqual([
    "up",
    "down",
    "flapping",
    "unknown",
    "flapping",
  ]);
});

test("beat times are epoch ms rounded down exactly, before and after 2000; nulls stay null", () => {
  const beats = [
    1_796_000_000_123_999n, // µs count past 2^53: a float division would round it up
    1_796_000_000_123_000n,
    946_684_799_999_999n, // 1 µs before PostgreSQL's epoch
    -1n, // before 1970
    0n,
  ];
  const rows = beats.map((b, i): Row => ({
    id: i,
    status: "up",
    flappingUs: null,
    beatUs: b,
    seq: 2n ** 53n + 2n,
  }));
  rows.push({ id: 9, status: "up", flappingUs: null, beatUs: null, seq: null });
  const cols = beatColumns(copyOf(rows), 0);
  expect([...cols.beatMs.subarray(0, 6)]).toEqual([
    1_796_000_000_123,
    1_796_000_000_123,
    946_684_799_999,
    -1,
    0,
    NaN,
  ]);
  expect(cols.lastSeq[0]).toBe(Number(2n ** 53n + 2n));
  expect(cols.lastSeq[5]).toBeNaN();
});

test("a page's text rows read as the COPY rows do: status number, flapping, nulls as NaN", () => {
  const cols = beatColumnsOfRows([
    ["11", "3", "up", "f", "1796000000123", "42"],
    ["12", "4", "down", "t", null, null],
    ["13", "5", "left", "f", "0", "9007199254740991"],
    ["14", "6", "unknown", "f", null, "1"],
  ]);
  expect(cols.n).toBe(4);
  expect([...cols.id]).toEqual([11, 12, 13, 14]);
  expect([...cols.version]).toEqual([3, 4, 5, 6]);
  expect([...cols.status].map((s) => LIST_STATUSES[s])).toEqual([
    "up",
    "flapping",
    "left",
    "unknown",
  ]);
  expect([...cols.beatMs]).toEqual([1796000000123, NaN, 0, NaN]);
  expect([...cols.lastSeq]).toEqual([42, NaN, 9007199254740991, 1]);
});
