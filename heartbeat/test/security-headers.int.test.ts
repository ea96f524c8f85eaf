// H6 finding H12: every answer of the monitor's HTTP app carries the browser security headers of
// sdk/internal (CSP, no framing, no sniffing, no Referer, own window).
import { silentLogger } from "@konorkestra/sdk";
import { SECURITY_HEADERS } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";

let nats: NatsServer;
let monitor: Monitor;

beforeAll(async () => {
  nats = await startNats();
  monitor = await createMonitor(
    { ...nats.clientOptions(), port: 0, auth: false, monitorId: "headers", groups: ["g1"] },
    { logger: silentLogger },
  );
});
afterAll(async () => {
  await monitor?.close();
  await nats?.stop();
});

test("JSON answers carry the headers: the liveness API, an ingest refusal, a 404, the health check", async () => {
  for (const [method, path, status] of [
    ["GET", "/v1/nodes", 200],
    ["POST", "/v1/heartbeat/g1/n1", 401],
    ["GET", "/v1/no-such-route", 404],
    ["GET", "/healthz", 200],
  ] as const) {
    const res = await fetch(`${monitor.url}${path}`, { method });
    await res.arrayBuffer();
    expect([method, path, res.status]).toEqual([method, path, status]);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    const security = Object.fromEntries(
      Object.keys(SECURITY_HEADERS).map((k) => [k, res.headers.get(k)]),
    );
    expect(security).toEqual(SECURITY_HEADERS);
  }
});
