import { startPostgres } from "@konorkestra/testkit";
import type { PostgresDatabase } from "@konorkestra/testkit";
import { Client } from "pg";
import { BinaryCopyBuffer } from "../src/ingest/binary-copy";
import { copyBinaryInto } from "../src/ingest/copy-writer";

// The binary COPY encoder against the real server: every type the ingest writes, edge values
// included, reads back as written.

let db: PostgresDatabase;
let client: Client;

beforeAll(async () => {
  db = await startPostgres();
  client = new Client({ connectionString: db.url });
  await client.connect();
});

afterAll(async () => {
  await client?.end();
  await db?.stop();
});

test("int8, int4, float4, bool, timestamptz, text, jsonb and NULL read back as written", async () => {
  await client.query(`CREATE TEMP TABLE t (i8 bigint, i4 integer, f4 real, b boolean,
    ts timestamptz, tx text, j jsonb, n text)`);
  const cols = ["i8", "i4", "f4", "b", "ts", "tx", "j", "n"];
  const rows = [
    [
      2 ** 53 - 1,
      2 ** 31 - 1,
      1.5,
      true,
      Date.UTC(2024, 0, 2, 3, 4, 5, 678),
      'héllo\t"\\',
      '{"a": 1}',
    ],
    [
      -(2 ** 40) - 7,
      -(2 ** 31),
      -0.25,
      false,
      Date.UTC(1969, 11, 31, 23, 59, 59, 1),
      "x\u0000y",
      "{}",
    ],
  ] as const;
  const out = new BinaryCopyBuffer(16); // small on purpose: the buffer must grow
  for (const r of rows) {
    out.row(cols.length).int8(r[0]).int4(r[1]).float4(r[2]).bool(r[3]);
    out.timestamptz(r[4]).text(r[5]).jsonb(r[6]).null();
  }
  await copyBinaryInto(client, "t", cols, out.finish());
  const back = await client.query<Record<string, unknown>>(
    "SELECT i8::text, i4, f4, b, ts, tx, j, n FROM t ORDER BY i4 DESC",
  );
  expect(back.rows).toEqual([
    {
      i8: String(2 ** 53 - 1),
      i4: 2 ** 31 - 1,
      f4: 1.5,
      b: true,
      ts: new Date(rows[0][4]),
      tx: 'héllo\t"\\',
      j: { a: 1 },
      n: null,
    },
    {
      i8: String(-(2 ** 40) - 7),
      i4: -(2 ** 31),
      f4: -0.25,
      b: false,
      ts: new Date(rows[1][4]),
      tx: "x\uFFFDy",
      j: {},
      n: null,
    },
  ]);
});

test("values outside a column's range are refused before they reach the server", () => {
  const out = new BinaryCopyBuffer();
  expect(() => out.row(1).int4(2 ** 31)).toThrow(RangeError);
  expect(() => out.row(1).int8(1.5)).toThrow(RangeError);
});
