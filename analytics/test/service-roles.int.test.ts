// The per-service PostgreSQL roles `make up` creates (scripts/pg-roles.sql, run here as it is
// there): analytics migrates and ingests as kon_analytics and the admin as kon_admin, neither a
// superuser, and neither can read the other's tables.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runMigrations as runAdminMigrations } from "../../admin/src/db/migrate";
import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgresServer, withClient } from "@konorkestra/testkit";
import type { NatsServer, PostgresServer } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { runMigrations } from "../src/db/migrate";
import { countRows } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { testAuth } from "./helpers/test-auth";
import { waitFor } from "./helpers/wait-for";

const DB = "kon_roles";
const PW = { analytics: "an4lytics_Pw-1", admin: "adm1n_Pw-2" };

let pg: PostgresServer;
let nats: NatsServer;
let svc: AnalyticsService | undefined;
let sim: FleetSimulator | undefined;

/** The URL of `database` for `role` on the test server. */
function roleUrl(role: string, password: string): string {
  const u = new URL(pg.url(DB));
  u.username = role;
  u.password = password;
  return u.toString();
}

beforeAll(async () => {
  [pg, nats] = await Promise.all([startPostgresServer(), startNats()]);
  await withClient(pg.url(), (c) => c.query(`CREATE DATABASE ${DB}`));
  await withClient(pg.url(DB), (c) => c.query("CREATE EXTENSION IF NOT EXISTS timescaledb"));
  const sql = readFileSync(join(__dirname, "../../scripts/pg-roles.sql"), "utf8")
    .replaceAll("{{DATABASE}}", DB)
    .replaceAll("{{ANALYTICS_PW}}", PW.analytics)
    .replaceAll("{{ADMIN_PW}}", PW.admin);
  await withClient(pg.url(DB), (c) => c.query(sql));
});

afterAll(async () => {
  await svc?.close();
  await sim?.close();
  await Promise.all([pg?.stop(), nats?.stop()]);
});

test("analytics migrates and ingests as kon_analytics, which is no superuser", async () => {
  const url = roleUrl("kon_analytics", PW.analytics);
  await withClient(url, async (c) => {
    const r = await c.query<{ rolsuper: boolean }>(
      "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
    );
    expect(r.rows[0]?.rolsuper).toBe(false);
  });
  await runMigrations(url);
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: url,
    port: 0,
    batchMs: 50,
    logger: silentLogger,
  });
  sim = await FleetSimulator.connect(nats.clientOptions());
  await sim.heartbeat("g1", "n1", { seq: 1 });
  await waitFor(
    "the heartbeat row",
    async () => (await countRows(url, "heartbeats", "stream_seq")).rows === 1,
  );
});

test("the admin migrates into kon_admin as kon_admin, and the two roles cannot read each other", async () => {
  const adminUrl = roleUrl("kon_admin", PW.admin);
  await runAdminMigrations(adminUrl);
  await withClient(adminUrl, async (c) => {
    await expect(c.query("SELECT count(*) FROM public.heartbeats")).rejects.toThrow(
      /permission denied/,
    );
  });
  await withClient(roleUrl("kon_analytics", PW.analytics), async (c) => {
    await expect(c.query("SELECT count(*) FROM kon_admin.admins")).rejects.toThrow(
      /permission denied/,
    );
    await expect(c.query("CREATE DATABASE kon_other")).rejects.toThrow(/permission denied/);
  });
});
