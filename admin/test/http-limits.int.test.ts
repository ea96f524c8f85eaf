// The admin's HTTP server has the services' request limits (KON_HTTP_*, sdk createHardenedServer):
// a client that sends half a header line and then nothing is cut at the headers timeout with 408,
// instead of holding the connection for Node's 60 s + 30 s check (H6 finding H11).
import { halfHeaderClient } from "@konorkestra/testkit";
import { AdminHarness } from "./helpers/admin-harness";

let h: AdminHarness;
beforeAll(async () => {
  const saved = { ...process.env };
  process.env.KON_HTTP_HEADERS_TIMEOUT_MS = "400";
  process.env.KON_HTTP_REQUEST_TIMEOUT_MS = "1000";
  try {
    h = await AdminHarness.start();
  } finally {
    process.env = saved;
  }
});
afterAll(async () => {
  await h?.stop();
});

test("a client dribbling its headers is cut at KON_HTTP_HEADERS_TIMEOUT_MS with 408", async () => {
  const cut = await halfHeaderClient(h.admin.url, 4000);
  expect(cut.closedAfterMs).toBeDefined();
  expect(cut.closedAfterMs!).toBeLessThan(2500);
  expect(cut.answer).toMatch(/^HTTP\/1\.1 408/);
  // A whole request is still served.
  expect((await fetch(`${h.admin.url}/healthz`)).status).toBe(200);
});
