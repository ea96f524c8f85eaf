// The admin API answers only to its own host names (DNS rebinding) and sends no CORS headers
// unless origins are configured, like the other services' APIs.
import { request } from "node:http";
import { AdminHarness } from "./helpers/admin-harness";

let h: AdminHarness;
beforeAll(async () => {
  h = await AdminHarness.start();
});
afterAll(async () => {
  await h?.stop();
});

/** GET with a chosen Host header (fetch does not let one set it). */
function getWithHost(path: string, host: string): Promise<{ status: number; headers: object }> {
  return new Promise((resolve, reject) => {
    const req = request(`${h.admin.url}${path}`, { headers: { host } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("a request for another host name gets 421; its own names get through", async () => {
  expect((await getWithHost("/healthz", "evil.example")).status).toBe(421);
  expect((await getWithHost("/healthz", `127.0.0.1:${h.admin.port}`)).status).toBe(200);
  expect((await getWithHost("/healthz", `localhost:${h.admin.port}`)).status).toBe(200);
});

test("no CORS headers for a foreign origin", async () => {
  const res = await fetch(`${h.admin.url}/healthz`, {
    headers: { origin: "https://evil.example" },
  });
  expect(res.headers.get("access-control-allow-origin")).toBeNull();
});
