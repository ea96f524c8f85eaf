// Signing out ends the session on every service, not only on the admin: an access token the
// session got before its last refresh is refused by the admin, by the liveness monitor and by
// analytics (each checks tokens with the sdk's AccessGate over its own RevocationList) within
// about a second. Real NATS (TLS, least-privilege credentials), PostgreSQL, and the three
// services in-process, spoken to over HTTP as `kon` does. It lives with the CLI's tests because
// they are the ones that run every service together.
import { silentLogger } from "@konorkestra/sdk";
import { createAnalytics } from "@konorkestra/analytics";
import type { AnalyticsService } from "@konorkestra/analytics";

import { AdminHarness } from "../../admin/test/helpers/admin-harness";
import { createMonitor } from "../../heartbeat/src/monitor";
import type { Monitor } from "../../heartbeat/src/monitor";

const EMAIL = "ops@example.org";
const PASSWORD = "correct horse battery";

interface Session {
  accessToken: string;
  refreshToken: string;
}

let h: AdminHarness;
let monitor: Monitor;
let analytics: AnalyticsService;

beforeAll(async () => {
  h = await AdminHarness.start();
  await h.firstAdmin(EMAIL, PASSWORD);
  const authPublicKeyFile = `${h.signingKeyFile}.pub`;
  [monitor, analytics] = await Promise.all([
    createMonitor(
      { ...h.nats.serviceOptions("monitor"), port: 0, authPublicKeyFile },
      { logger: silentLogger },
    ),
    createAnalytics({
      ...h.nats.serviceOptions("analytics"),
      authPublicKeyFile,
      pgUrl: h.db.url,
      port: 0,
      logger: silentLogger,
    }),
  ]);
});

afterAll(async () => {
  await monitor?.close();
  await analytics?.close();
  await h?.stop();
});

async function status(url: string, token: string): Promise<number> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  return res.status;
}

/** Each service's answer to `token`, on a route that needs a `read` token. */
async function statuses(token: string): Promise<Record<string, number>> {
  const [admin, mon, ana] = await Promise.all([
    status(`${h.admin.url}/v1/groups`, token),
    status(`${monitor.url}/v1/nodes`, token),
    status(`${analytics.url}/v1/fleet/summary`, token),
  ]);
  return { admin, monitor: mon, analytics: ana };
}

async function post(path: string, body: unknown, token?: string): Promise<Session> {
  const r = await h.http("POST", path, { body, ...(token ? { token } : {}) });
  if (r.status !== 200 && r.status !== 204) throw new Error(`${path}: ${r.status} ${r.text}`);
  return r.body as unknown as Session;
}

async function until(cond: () => Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= end) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

const everywhere = (code: number) => ({ admin: code, monitor: code, analytics: code });

test("after refresh and logout with the new token, the old token is refused by every service", async () => {
  const first = await post("/v1/auth/login", { email: EMAIL, password: PASSWORD });
  const second = await post("/v1/auth/refresh", { refreshToken: first.refreshToken });
  const bystander = await post("/v1/auth/login", { email: EMAIL, password: PASSWORD });
  // All valid everywhere (and now in each gate's verified-token cache). The services read the
  // revocation list at start: wait for them to serve.
  for (const s of [first, second, bystander]) {
    expect(await until(async () => (await statuses(s.accessToken)).analytics === 200, 10_000)).toBe(
      true,
    );
    expect(await statuses(s.accessToken)).toEqual(everywhere(200));
  }

  await post("/v1/auth/logout", { refreshToken: second.refreshToken }, second.accessToken);
  const t0 = Date.now();
  for (const s of [first, second]) {
    const refused = await until(
      async () => Object.values(await statuses(s.accessToken)).every((c) => c === 401),
      2000,
    );
    expect(refused).toBe(true);
  }
  expect(Date.now() - t0).toBeLessThan(2000);
  expect(await statuses(first.accessToken)).toEqual(everywhere(401));
  // Another sign-in of the same admin is not affected.
  expect(await statuses(bystander.accessToken)).toEqual(everywhere(200));
});
