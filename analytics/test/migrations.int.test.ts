import { startPostgres } from "@konorkestra/testkit";
import type { PostgresDatabase } from "@konorkestra/testkit";
import { readdirSync } from "node:fs";
import { runner } from "node-pg-migrate";
import { Pool } from "pg";
import { MIGRATIONS_DIR, runMigrations } from "../src/db/migrate";
import { applyStoragePolicies, dropExpiredChunks } from "../src/db/storage-policies";
import { parseAnalyticsOptions } from "../src/options";
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
  expect(views.map((v) => v.table_name).sort()).toEqual([
    "heartbeats_1m",
    "heartbeats_with_config",
  ]);
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
  // The per-node heartbeat index exists only when asked for.
  const nodeIndex = async (): Promise<number> =>
    (
      await sql<{ n: number }>(
        db.url,
        "SELECT count(*)::int AS n FROM pg_indexes WHERE indexname = 'heartbeats_node_time'",
      )
    )[0]!.n;
  expect(await nodeIndex()).toBe(0);
  await applyStoragePolicies(pool, { ...opts, heartbeatNodeIndex: true });
  expect(await nodeIndex()).toBe(1);
  await applyStoragePolicies(pool, opts);
  expect(await nodeIndex()).toBe(0);
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

test("heartbeats stored with a config column keep it as config sets after the migration", async () => {
  const own = await startPostgres();
  const migrate = (direction: "up" | "down", count: number): Promise<unknown> =>
    runner({
      databaseUrl: own.url,
      dir: MIGRATIONS_DIR,
      direction,
      count,
      migrationsTable: "analytics_migrations",
      singleTransaction: true,
      log: () => undefined,
    });
  try {
    // Back to before 1732700000000_heartbeat-config-sets, and rows as that schema stored them.
    const files = readdirSync(MIGRATIONS_DIR)
      .filter((f) => f.endsWith(".js"))
      .sort();
    await migrate("down", files.length - files.indexOf("1732700000000_heartbeat-config-sets.js"));
    await sql(
      own.url,
      `INSERT INTO heartbeats (time, group_name, node_id, seq, sent_at, latency_ms, interval_ms,
                               uptime_ms, instance_id, config, stream_seq)
       SELECT now() - i * interval '1 second', 'g', 'n' || (i % 2), i, now(), 1, 1000, 1, 'i',
              CASE WHEN i % 3 = 0 THEN '{}' ELSE jsonb_build_object('svc', i % 3) END, i
         FROM generate_series(1, 30) i`,
    );
    await migrate("up", Infinity);
    const rows = await sql<{ config: unknown; n: number; negative: boolean }>(
      own.url,
      `SELECT config, count(*)::int AS n, bool_and(config_set < 0) AS negative
         FROM heartbeats_with_config GROUP BY 1 ORDER BY 1::text`,
    );
    expect(rows).toEqual([
      { config: {}, n: 10, negative: false },
      { config: { svc: 1 }, n: 10, negative: true },
      { config: { svc: 2 }, n: 10, negative: true },
    ]);
  } finally {
    await own.stop();
  }
});
