import { request } from "node:http";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { KV } from "@nats-io/kv";
import { silentLogger } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import { ensureRevokedBucket, wireNames } from "@konorkestra/sdk/internal";
import { createTestTokens, sharedTestTokens, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { getJson } from "./helpers/get-json";
import { testAuth } from "./helpers/test-auth";
import { waitFor } from "./helpers/wait-for";

// Issue 10 item 4: the analytics API needs a `read` access token on every route but /healthz,
// checked offline (admin's public key + the <prefix>_revoked list, read on analytics' own
// least-privilege credential); the Host allow-list refuses rebound names; CORS is off.

let nats: NatsServer;
let db: PostgresDatabase;
let admin: NatsConnection;
let revoked: KV;
let svc: AnalyticsService;
const tokens = sharedTestTokens();
const REVOKED_EARLY = "revoked-before-start";

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  // The admin's side of the contract: the revocation bucket with a token revoked before start.
  admin = await connect({ ...nats.clientOptions(), name: "admin-stand-in" });
  revoked = await ensureRevokedBucket(admin, wireNames());
  await revoked.put(REVOKED_EARLY, JSON.stringify({ revokedAt: Date.now() }));
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.serviceOptions("analytics"),
    pgUrl: db.url,
    port: 0,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await svc?.close();
  await admin?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

const without = { authorization: "" };
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

test("/healthz needs no token; every other route, unknown ones and /metrics included, does", async () => {
  expect((await getJson(svc.url, "/healthz", without)).status).toBe(200);
  for (const path of [
    "/v1/fleet/summary",
    "/v1/nodes",
    "/v1/incidents",
    "/v1/config/drift",
    "/v1/pipeline",
    "/metrics",
    "/v1/no-such-route",
  ]) {
    const res = await fetch(svc.url + path);
    expect([path, res.status]).toEqual([path, 401]);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
  }
});

test("no token, a malformed, forged, expired or revoked one: one and the same 401 answer", async () => {
  const other = createTestTokens();
  try {
    const answers = [
      await getJson(svc.url, "/v1/nodes", without),
      await getJson(svc.url, "/v1/nodes", { authorization: "Basic a29uOmtvbg==" }),
      await getJson(svc.url, "/v1/nodes", bearer("kon1.e30.AAAA")),
      await getJson(svc.url, "/v1/nodes", bearer(other.mint(["admin"]))),
      await getJson(svc.url, "/v1/nodes", bearer(tokens.mint(["read"], { ttlSec: -5 }))),
      await getJson(svc.url, "/v1/nodes", bearer(tokens.mint(["read"], { jti: REVOKED_EARLY }))),
    ];
    for (const a of answers) expect(a).toEqual(answers[0]);
    expect(answers[0]).toEqual({
      status: 401,
      body: {
        error: {
          code: "UNAUTHORIZED",
          message: "a valid access token is required (Authorization: Bearer <token>)",
          details: {},
        },
      },
    });
  } finally {
    other.remove();
  }
});

test("read, write and admin tokens all read; revoking one ends it within moments", async () => {
  for (const scopes of [["read"], ["write"], ["admin"]] as const) {
    const r = await getJson(svc.url, "/v1/fleet/summary", bearer(tokens.mint([...scopes])));
    expect(r.status).toBe(200);
  }
  const jti = "revoked-while-running";
  const live = tokens.mint(["read"], { jti });
  expect((await getJson(svc.url, "/v1/nodes", bearer(live))).status).toBe(200);
  await revoked.put(jti, JSON.stringify({ revokedAt: Date.now() }));
  await waitFor(
    "revocation seen",
    async () => (await getJson(svc.url, "/v1/nodes", bearer(live))).status === 401,
  );
});

/** A GET with a Host header of our choosing (fetch does not let one set Host). */
function getWithHost(host: string, path = "/healthz"): Promise<number | undefined> {
  const url = new URL(svc.url);
  return new Promise((resolve, reject) => {
    request(
      { host: url.hostname, port: url.port, path, headers: { host, ...tokens.header() } },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    )
      .on("error", reject)
      .end();
  });
}

test("a Host that is not the service's own (DNS rebinding) is refused with 421, /healthz too", async () => {
  const port = new URL(svc.url).port;
  expect(await getWithHost(`127.0.0.1:${port}`)).toBe(200);
  expect(await getWithHost(`localhost:${port}`, "/v1/nodes")).toBe(200);
  expect(await getWithHost(`rebind.attacker.example:${port}`)).toBe(421);
  expect(await getWithHost(`rebind.attacker.example:${port}`, "/v1/nodes")).toBe(421);
  expect(await getWithHost(`localhost:${Number(port) + 1}`)).toBe(421);
});

test("CORS is off: no Access-Control header, and a preflight is refused", async () => {
  const res = await fetch(`${svc.url}/v1/nodes`, {
    headers: { ...tokens.header(), origin: "https://elsewhere.example" },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("access-control-allow-origin")).toBeNull();
  const pre = await fetch(`${svc.url}/v1/nodes`, {
    method: "OPTIONS",
    headers: { origin: "https://elsewhere.example", "access-control-request-method": "GET" },
  });
  expect(pre.status).toBe(403);
  expect(pre.headers.get("access-control-allow-origin")).toBeNull();
});

describe("starting", () => {
  test("without a public key analytics refuses to start, saying what to set", async () => {
    await expect(
      createAnalytics({
        ...nats.serviceOptions("analytics"),
        pgUrl: db.url,
        port: 0,
        logger: silentLogger,
      }),
    ).rejects.toThrow(/KON_AUTH_PUBLIC_KEY_FILE.*KON_AUTH=off/);
  });

  test("KON_AUTH=off serves without a token and warns at start", async () => {
    const warnings: string[] = [];
    const logger: Logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    const open = await createAnalytics({
      ...nats.serviceOptions("analytics"),
      auth: false,
      pgUrl: db.url,
      port: 0,
      logger,
      heartbeatConsumer: "auth-off-hb",
      eventConsumer: "auth-off-evt",
      configConsumer: "auth-off-cfg",
    });
    try {
      expect((await getJson(open.url, "/v1/fleet/summary", without)).status).toBe(200);
      expect(warnings.join("\n")).toMatch(/KON_AUTH=off.*without a token/);
    } finally {
      await open.close();
    }
  });
});
