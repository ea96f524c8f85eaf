// The analytics HTTP server has the services' request limits (KON_HTTP_*, sdk
// createHardenedServer): a client that sends half a header line and then nothing is cut at the
// headers timeout with 408, instead of holding the connection for Node's 60 s + 30 s check
// (H6 finding H11).
import { silentLogger } from "@konorkestra/sdk";
import { halfHeaderClient, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { testAuth } from "./helpers/test-auth";

let nats: NatsServer;
let db: PostgresDatabase;
let svc: AnalyticsService;

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  const saved = { ...process.env };
  process.env.KON_HTTP_HEADERS_TIMEOUT_MS = "400";
  process.env.KON_HTTP_REQUEST_TIMEOUT_MS = "1000";
  try {
    svc = await createAnalytics({
      ...testAuth(),
      ...nats.clientOptions(),
      pgUrl: db.url,
      port: 0,
      maintenanceIntervalMs: 3_600_000,
      logger: silentLogger,
    });
  } finally {
    process.env = saved;
  }
});

afterAll(async () => {
  await svc?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

test("a client dribbling its headers is cut at KON_HTTP_HEADERS_TIMEOUT_MS with 408", async () => {
  const cut = await halfHeaderClient(svc.url, 4000);
  expect(cut.closedAfterMs).toBeDefined();
  expect(cut.closedAfterMs!).toBeLessThan(2500);
  expect(cut.answer).toMatch(/^HTTP\/1\.1 408/);
  // A whole request is still served.
  expect((await fetch(`${svc.url}/healthz`)).status).toBeLessThan(500);
});
