import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgresServer, withClient } from "@konorkestra/testkit";
import type { NatsServer, PostgresServer } from "@konorkestra/testkit";
import { Client } from "pg";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { runMigrations } from "../src/db/migrate";
import { countRows, sql } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { getJson } from "./helpers/get-json";
import { waitFor } from "./helpers/wait-for";
import { testAuth } from "./helpers/test-auth";

// PostgreSQL is stopped and started again while heartbeats keep arriving: the batch in hand is
// retried with backoff and not acknowledged, /healthz says 503, and afterwards every message is
// in the table exactly once.

let nats: NatsServer;
let pg: PostgresServer;
let sim: FleetSimulator;
let svc: AnalyticsService | undefined;
let url: string;

beforeAll(async () => {
  [nats, pg] = await Promise.all([startNats(), startPostgresServer()]);
  await withClient(pg.url(), (c) => c.query("CREATE DATABASE kon_restart"));
  url = pg.url("kon_restart");
  await runMigrations(url);
  sim = await FleetSimulator.connect(nats.clientOptions());
});

afterAll(async () => {
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), pg?.stop()]);
});

test("PostgreSQL stopped and restarted mid-ingest: nothing lost, nothing doubled", async () => {
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: url,
    port: 0,
    batchRows: 40,
    batchMs: 50,
    retryMinMs: 50,
    retryMaxMs: 400,
    ackWaitMs: 1500, // shorter than the outage: the batch in hand must be kept with working()
    maintenanceIntervalMs: 500,
    logger: silentLogger,
  });
  const service = svc;
  let seq = 0;
  const publish = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) {
      seq += 1;
      await sim.heartbeat("g", `n${seq % 5}`, { seq });
    }
  };

  await publish(150);
  await waitFor(
    "first 150 rows",
    async () => (await countRows(url, "heartbeats", "stream_seq")).rows === 150,
  );

  // Keep publishing while the server goes down.
  const during = publish(100);
  await pg.shutdown();
  await during;
  const unhealthy = await waitFor("health 503", async () => {
    const r = await getJson<{ checks: { postgres: { ok: boolean }; ingest: { ok: boolean }[] } }>(
      service.url,
      "/healthz",
    );
    return r.status === 503 && r.body.checks.ingest.some((i) => !i.ok) && r.body;
  });
  expect(unhealthy.checks.postgres.ok).toBe(false);
  await publish(100);
  const acked = service.ingesters[0]!.status().messagesTotal;
  await new Promise((r) => setTimeout(r, 2500)); // past ack_wait: nothing may be acknowledged
  expect(service.ingesters[0]!.status().messagesTotal).toBe(acked);
  const failures = (await service.metrics.writeFailures.get()).values.find(
    (v) => v.labels.kind === "heartbeats",
  );
  expect(failures?.value).toBeGreaterThan(0);

  await pg.restart();
  await publish(50);
  await waitFor(
    "all 400 rows",
    async () => (await countRows(url, "heartbeats", "stream_seq")).rows >= 400,
    30_000,
  );
  await waitFor("health 200", async () => (await getJson(service.url, "/healthz")).status === 200);
  const [range] = await sql<{ rows: number; distinct: number; lo: string; hi: string }>(
    url,
    "SELECT count(*)::int AS rows, count(DISTINCT stream_seq)::int AS distinct, min(stream_seq) AS lo, max(stream_seq) AS hi FROM heartbeats",
  );
  expect(range).toEqual({ rows: 400, distinct: 400, lo: "1", hi: "400" });
  // Retried and redelivered batches count each row once.
  expect(service.ingesters[0]!.status().rowsTotal).toBe(400);
  const [state] = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM node_state");
  expect(state!.n).toBe(5);
});

test("PostgreSQL slow (table locked): nothing is acknowledged until the batch commits", async () => {
  const service = svc!;
  const before = (await countRows(url, "heartbeats", "stream_seq")).rows;
  const acked = service.ingesters[0]!.status().messagesTotal;
  const locker = new Client({ connectionString: url });
  await locker.connect();
  await locker.query("BEGIN");
  await locker.query("LOCK TABLE heartbeats IN ACCESS EXCLUSIVE MODE");
  try {
    for (let i = 1; i <= 60; i++) await sim.heartbeat("g", "slow", { seq: i });
    await new Promise((r) => setTimeout(r, 2500)); // longer than ack_wait
    expect(service.ingesters[0]!.status().messagesTotal).toBe(acked);
  } finally {
    await locker.query("COMMIT");
    await locker.end();
  }
  await waitFor(
    "60 more rows",
    async () => (await countRows(url, "heartbeats", "stream_seq")).rows === before + 60,
  );
  await waitFor("acked", () => service.ingesters[0]!.status().messagesTotal >= acked + 60);
  const c = await countRows(url, "heartbeats", "stream_seq");
  expect(c).toEqual({ rows: before + 60, distinct: before + 60 });
});
