import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { startPostgres } from "@konorkestra/testkit";
import type { PostgresDatabase } from "@konorkestra/testkit";
import { wireNames } from "@konorkestra/sdk/internal";
import { Client } from "pg";
import {
  HEARTBEAT_COLUMNS,
  HeartbeatTuples,
  tuplesPayload,
} from "../src/ingest/heartbeat/heartbeat-tuples";
import { copyBinaryInto } from "../src/pg/binary-copy";

// The heartbeat tuples against the real server: every column reads back as the beat said, edge
// values included, whether the tuples lie in one arena or several.

const names = wireNames("kon");

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

test("every column of heartbeats reads back as written, edge values included", async () => {
  await client.query(`CREATE TEMP TABLE t (LIKE heartbeats)`);
  const tuples = new HeartbeatTuples(names, 0.5);
  const beats = [
    {
      subject: "kon.hb.g-1.N_1=x",
      timeMs: Date.UTC(2024, 0, 2, 3, 4, 5, 678),
      streamSeq: 2 ** 53 - 1,
      beat: {
        group: "g-1",
        nodeId: "N_1=x",
        seq: 2 ** 40 + 3,
        sentAtMs: Date.UTC(2024, 0, 2, 3, 4, 5, 0),
        uptimeMs: 2 ** 50,
        intervalMs: 2 ** 31 - 1,
        leaving: true,
        process: { instanceId: 'x\u0000y-grüppe\t"\\' },
        config: { a: { revision: 2 } },
      },
    },
    {
      subject: "kon.hb.g2.n2",
      timeMs: Date.UTC(1969, 11, 31, 23, 59, 59, 1),
      streamSeq: 1,
      // A send time of 0 or below is no claim: the row takes the stream time (latency 0).
      beat: { sentAtMs: -5_000, uptimeMs: -1 },
    },
  ];
  const rows = beats.map((b) => tuples.tuple({ ...b, data: encodeMessage(Heartbeat, b.beat) }));
  await copyBinaryInto(client, "t", HEARTBEAT_COLUMNS, tuplesPayload(rows));
  const back = await client.query<Record<string, unknown>>(
    `SELECT time, group_name, node_id, seq::text, sent_at, latency_ms, late, interval_ms,
            uptime_ms::text, leaving, instance_id, config_set::text, stream_seq::text
       FROM t ORDER BY stream_seq DESC`,
  );
  expect(back.rows).toEqual([
    {
      time: new Date(beats[0]!.timeMs),
      group_name: "g-1",
      node_id: "N_1=x",
      seq: String(2 ** 40 + 3),
      sent_at: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 0)),
      latency_ms: 678,
      late: false,
      interval_ms: 2 ** 31 - 1,
      uptime_ms: String(2 ** 50),
      leaving: true,
      instance_id: 'x\uFFFDy-grüppe\t"\\',
      config_set: String(rows[0]!.configSet),
      stream_seq: String(2 ** 53 - 1),
    },
    {
      time: new Date(beats[1]!.timeMs),
      group_name: "g2",
      node_id: "n2",
      seq: "0",
      sent_at: new Date(beats[1]!.timeMs),
      latency_ms: 0,
      late: false, // no interval given: never late
      interval_ms: 0,
      uptime_ms: "-1",
      leaving: false,
      instance_id: "",
      config_set: "0",
      stream_seq: "1",
    },
  ]);
});

test("tuples spread over several arenas make one payload", async () => {
  await client.query(`CREATE TEMP TABLE t2 (LIKE heartbeats)`);
  const tuples = new HeartbeatTuples(names, 0.5);
  const node = "n".repeat(128); // the longest node id
  const data = encodeMessage(Heartbeat, { process: { instanceId: "i".repeat(300) } });
  // ~540 bytes a tuple: 5,000 of them fill about three 1 MiB arenas.
  const rows = Array.from({ length: 5000 }, (_, i) =>
    tuples.tuple({ subject: `kon.hb.g.${node}`, data, timeMs: 1_000_000 + i, streamSeq: i + 1 }),
  );
  expect(new Set(rows.map((r) => r.buf)).size).toBeGreaterThan(1);
  await copyBinaryInto(client, "t2", HEARTBEAT_COLUMNS, tuplesPayload(rows.reverse()));
  const r = await client.query<{ n: number; s: string; l: number }>(
    "SELECT count(*)::int AS n, sum(stream_seq)::text AS s, min(length(node_id)) AS l FROM t2",
  );
  expect(r.rows[0]).toEqual({ n: 5000, s: String((5000 * 5001) / 2), l: 128 });
});
