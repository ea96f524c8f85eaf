import { startPostgres } from "@konorkestra/testkit";
import type { PostgresDatabase } from "@konorkestra/testkit";
import { Pool } from "pg";
import {
  applyStoragePolicies,
  dropExpiredChunks,
  parseAnalyticsOptions,
  runMigrations,
} from "../src";
import { sql } from "./helpers/count-rows";

let db: PostgresDatabase;
let pool: Pool;

beforeAll(async () => {
  db = await startPostgres();
  pool = new Pool({ connectionString: db.url, max: 2 });
});

afterAll(async () => {
  await pool?.end();
  await db?.stop();
});

test("the template is migrated: hypertables, node_state, rollup view, config history; re-running is a no-op", async () => {
  const hypertables = await sql<{ hypertable_name: string }>(
    db.url,
    "SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1",
  );
  expect(hypertables.map((h) => h.hypertable_name)).toEqual([
    "config_events",
    "heartbeats",
    "heartbeats_1m_store",
    "node_events",
  ]);
  const views = await sql<{ table_name: string }>(
    db.url,
    "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'",
  );
  expect(views.map((v) => v.table_name)).toEqual(["heartbeats_1m"]);
  expect(await runMigrations(db.url)).toEqual([]);
});

test("chunk intervals and retention come from the options", async () => {
  const opts = parseAnalyticsOptions(
    { heartbeatChunkInterval: "2 hours", rawRetention: "1 day" },
    {},
  );
  const info = await applyStoragePolicies(pool, opts);
  const [dim] = await sql<{ time_interval: { hours?: number } }>(
    db.url,
    "SELECT time_interval FROM timescaledb_information.dimensions WHERE hypertable_name = 'heartbeats'",
  );
  expect(dim!.time_interval.hours).toBe(2);
  if (info.retention === "service") {
    // Apache-licensed TimescaleDB: the service drops chunks itself.
    await sql(
      db.url,
      `INSERT INTO heartbeats (time, group_name, node_id, seq, sent_at, latency_ms, interval_ms, uptime_ms, instance_id, stream_seq)
       VALUES (now() - interval '3 days', 'g', 'old', 1, now() - interval '3 days', 1, 1000, 1, 'i', 1),
              (now(), 'g', 'new', 1, now(), 1, 1000, 1, 'i', 2)`,
    );
    expect(await dropExpiredChunks(pool, opts)).toBeGreaterThan(0);
    const left = await sql<{ node_id: string }>(db.url, "SELECT node_id FROM heartbeats");
    expect(left.map((r) => r.node_id)).toEqual(["new"]);
  } else {
    const jobs = await sql(
      db.url,
      "SELECT 1 FROM timescaledb_information.jobs WHERE proc_name = 'policy_retention'",
    );
    expect(jobs.length).toBe(4);
  }
});
