// The monitor's API (/v1/nodes, /metrics) needs a `read` access token checked with the admin's
// public key; without a key configured it refuses everyone and says what to set; /healthz is open.
import { silentLogger } from "@konorkestra/sdk";
import { sharedTestTokens, startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";

let nats: NatsServer;
const monitors: Monitor[] = [];

beforeAll(async () => {
  nats = await startNats();
});
afterAll(async () => {
  for (const m of monitors) await m.close();
  await nats?.stop();
});

async function start(extra: Record<string, unknown>): Promise<Monitor> {
  const m = await createMonitor(
    { ...nats.clientOptions(), port: 0, monitorId: `auth-${monitors.length}`, ...extra },
    { logger: silentLogger },
  );
  monitors.push(m);
  return m;
}

test("with the admin's key: no token 401, a read token 200, /healthz open", async () => {
  const tokens = sharedTestTokens();
  const m = await start({ authPublicKeyFile: tokens.publicKeyFile });
  for (const path of ["/v1/nodes", "/metrics"]) {
    expect((await fetch(`${m.url}${path}`)).status).toBe(401);
    let ok = 0;
    for (let i = 0; i < 50 && ok !== 200; i++) {
      // 503 until the revocation list has been read once (for any token, good or forged)
      ok = (await fetch(`${m.url}${path}`, { headers: tokens.header(["read"]) })).status;
      if (ok === 503) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ok).toBe(200);
    expect(
      (await fetch(`${m.url}${path}`, { headers: { authorization: "Bearer forged" } })).status,
    ).toBe(401);
  }
  expect((await fetch(`${m.url}/healthz`)).status).toBe(200);
});

test("without a key the API refuses everyone and says what to set; liveness still runs", async () => {
  const m = await start({});
  const res = await fetch(`${m.url}/v1/nodes`, { headers: sharedTestTokens().header(["read"]) });
  expect(res.status).toBe(401);
  expect(await res.text()).toMatch(/KON_AUTH_PUBLIC_KEY_FILE/);
  expect((await fetch(`${m.url}/healthz`)).status).toBe(200);
});
