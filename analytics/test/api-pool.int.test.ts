import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { Client } from "pg";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { sql } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { waitFor } from "./helpers/wait-for";
import { readAuth, testAuth } from "./helpers/test-auth";

// Issue 14 item 4: the API and the ingest must not share one pool. A crowd of fresh API requests
// runs on the API's own connections (at most its pool size), and the ingest keeps committing on
// its own meanwhile.

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  sim = await FleetSimulator.connect(nats.clientOptions());
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchMs: 20,
    pgPoolSize: 3,
    apiPgPoolSize: 2,
    maintenanceIntervalMs: 3_600_000,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

/** Most connections of each application name seen while `during` runs (polled). */
async function connectionsDuring(during: Promise<unknown>): Promise<Map<string, number>> {
  const c = new Client({ connectionString: db.url });
  await c.connect();
  const most = new Map<string, number>();
  let done = false;
  void during.finally(() => (done = true));
  try {
    while (!done) {
      const r = await c.query<{ app: string; n: number }>(
        `SELECT application_name AS app, count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
          GROUP BY application_name`,
      );
      for (const { app, n } of r.rows) most.set(app, Math.max(most.get(app) ?? 0, n));
    }
    await during;
  } finally {
    await c.end();
  }
  return most;
}

test("fresh API requests use the API's own pool; the ingest commits on its own meanwhile", async () => {
  for (let i = 0; i < 50; i++) await sim.heartbeat("g1", `n${i}`, { seq: 1 });
  await waitFor("first beats", async () => {
    return (await sql(db.url, "SELECT 1 FROM heartbeats")).length === 50;
  });
  const requests = Promise.all(
    Array.from({ length: 60 }, (_, i) =>
      fetch(`${svc.url}/v1/nodes${i % 2 ? "" : "?limit=10"}`, {
        headers: { "cache-control": "no-cache", ...readAuth() },
      }).then((r) => r.status),
    ),
  );
  const beats = (async () => {
    for (let i = 0; i < 50; i++) await sim.heartbeat("g1", `n${i}`, { seq: 2 });
  })();
  const most = await connectionsDuring(Promise.all([requests, beats]));
  expect(new Set(await requests)).toEqual(new Set([200]));
  expect(most.get("kon-analytics-api") ?? 0).toBeGreaterThan(0);
  expect(most.get("kon-analytics-api")).toBeLessThanOrEqual(2);
  expect(most.get("kon-analytics-ingest") ?? 0).toBeGreaterThan(0);
  expect(most.get("kon-analytics-ingest")).toBeLessThanOrEqual(3);
  await waitFor("second beats committed", async () => {
    return (await sql(db.url, "SELECT 1 FROM heartbeats")).length === 100;
  });
});
