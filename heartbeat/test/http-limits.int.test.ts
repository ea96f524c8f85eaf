// The monitor's HTTP server has the services' request limits (KON_HTTP_*, sdk
// createHardenedServer): a client that sends half a header line and then nothing is cut at the
// headers timeout with 408, instead of holding the connection for Node's 60 s + 30 s check (H6
// finding H11).
import { silentLogger } from "@konorkestra/sdk";
import { halfHeaderClient, startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";

let nats: NatsServer;
let monitor: Monitor;

beforeAll(async () => {
  nats = await startNats();
  const saved = { ...process.env };
  process.env.KON_HTTP_HEADERS_TIMEOUT_MS = "400";
  process.env.KON_HTTP_REQUEST_TIMEOUT_MS = "1000";
  try {
    monitor = await createMonitor(
      { ...nats.clientOptions(), port: 0, auth: false, monitorId: "limits", groups: ["g1"] },
      { logger: silentLogger },
    );
  } finally {
    process.env = saved;
  }
});
afterAll(async () => {
  await monitor?.close();
  await nats?.stop();
});

test("a client dribbling its headers is cut at KON_HTTP_HEADERS_TIMEOUT_MS with 408", async () => {
  const cut = await halfHeaderClient(monitor.url, 4000);
  expect(cut.closedAfterMs).toBeDefined();
  expect(cut.closedAfterMs!).toBeLessThan(2500);
  expect(cut.answer).toMatch(/^HTTP\/1\.1 408/);
  // A whole request is still served.
  expect((await fetch(`${monitor.url}/healthz`)).status).toBeLessThan(500);
});
