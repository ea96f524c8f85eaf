import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Client } from "pg";
import type { NatsConnection } from "@nats-io/transport-node";
import { sessionRevocationKey } from "@konorkestra/sdk/internal";
import type { RevocationList } from "@konorkestra/sdk/internal";
import { REVOCATION_CLOCK_MARGIN_MS } from "../src/domain/accounts";
import { NatsRevocations } from "../src/store/nats-revocations";
import { AdminHarness } from "./helpers/admin-harness";
import {
  jtiOf,
  login as loginAs,
  refresh,
  sidOf,
  tokenGate,
  until,
} from "./helpers/session-helpers";
import type { Session } from "./helpers/session-helpers";

// Sign-out ends the session everywhere: its session id (the `sid` of every access token it got,
// across refreshes) is published to `<prefix>_revoked` as `sid.<sid>` (with a TTL of the longest
// life one of its tokens can have left), so the admin and every AccessGate following that bucket
// (analytics, the monitor) refuse all of its access tokens within about a second, as they do a
// revoked API token. Other sessions, and anything a logout names without holding it, stay.

const EMAIL = "root@example.org";
const PASSWORD = "correct horse battery";

const login = (h: AdminHarness): Promise<Session> => loginAs(h, EMAIL, PASSWORD);
const start = (h: AdminHarness) => tokenGate(h, "logout-test");

describe("logout with the session's access token", () => {
  let h: AdminHarness;
  let nc: NatsConnection;
  let list: RevocationList;
  let gateStatus: (token: string) => number;
  beforeAll(async () => {
    // A short reuse grace period, so a replay after it is reuse (refresh-grace.int tests the grace).
    h = await AdminHarness.start({ refreshReuseGraceMs: 300 });
    await h.firstAdmin(EMAIL, PASSWORD);
    ({ nc, list, gateStatus } = await start(h));
  });
  afterAll(async () => {
    list?.close();
    await nc?.close();
    await h?.stop();
  });

  const adminStatus = async (token: string) =>
    (await h.http("GET", "/v1/groups", { token })).status;

  it("refuses the access token on the admin and at an AccessGate within 2 s; another session stays", async () => {
    const a = await login(h);
    const b = await login(h);
    for (const s of [a, b]) {
      expect(await adminStatus(s.accessToken)).toBe(200);
      expect(gateStatus(s.accessToken)).toBe(200); // and now in the gate's verified cache
    }
    const out = await h.http("POST", "/v1/auth/logout", {
      token: a.accessToken,
      body: { refreshToken: a.refreshToken },
    });
    expect(out.status).toBe(204);
    const t0 = Date.now();
    expect(await until(() => gateStatus(a.accessToken) === 401, 2000)).toBe(true);
    expect(await until(async () => (await adminStatus(a.accessToken)) === 401, 2000)).toBe(true);
    expect(Date.now() - t0).toBeLessThan(2000);
    // The refresh family is gone as before.
    const again = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: a.refreshToken },
    });
    expect(again.status).toBe(401);
    // The same admin's other session is not affected.
    expect(await adminStatus(b.accessToken)).toBe(200);
    expect(gateStatus(b.accessToken)).toBe(200);
    expect(list.has(sessionRevocationKey(sidOf(b.accessToken)))).toBe(false);
    expect(list.has(jtiOf(b.accessToken))).toBe(false);
  });

  it("every access token of the session is refused, those from before its last refresh too", async () => {
    const first = await login(h);
    const second = await refresh(h, first);
    const third = await refresh(h, second);
    expect(new Set([first, second, third].map((s) => sidOf(s.accessToken))).size).toBe(1);
    for (const s of [first, second, third]) {
      expect(await adminStatus(s.accessToken)).toBe(200);
      expect(gateStatus(s.accessToken)).toBe(200); // cached by the gate from here on
    }
    const out = await h.http("POST", "/v1/auth/logout", {
      token: third.accessToken,
      body: { refreshToken: third.refreshToken },
    });
    expect(out.status).toBe(204);
    const t0 = Date.now();
    for (const s of [first, second, third]) {
      expect(await until(() => gateStatus(s.accessToken) === 401, 2000)).toBe(true);
      expect(await until(async () => (await adminStatus(s.accessToken)) === 401, 2000)).toBe(true);
    }
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it("a logout with the refresh token alone ends the session too", async () => {
    const first = await login(h);
    const second = await refresh(h, first);
    const other = await login(h);
    const out = await h.http("POST", "/v1/auth/logout", {
      body: { refreshToken: second.refreshToken },
    });
    expect(out.status).toBe(204);
    for (const s of [first, second]) {
      expect(await until(() => gateStatus(s.accessToken) === 401, 2000)).toBe(true);
      expect(await until(async () => (await adminStatus(s.accessToken)) === 401, 2000)).toBe(true);
    }
    expect(await adminStatus(other.accessToken)).toBe(200);
    expect(gateStatus(other.accessToken)).toBe(200);
  });

  it("a reused refresh token ends the session: its access tokens are refused everywhere", async () => {
    const first = await login(h);
    const second = await refresh(h, first);
    await new Promise((r) => setTimeout(r, 400)); // past the reuse grace period
    const reuse = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: first.refreshToken },
    });
    expect(reuse.status).toBe(401);
    for (const s of [first, second]) {
      expect(await until(() => gateStatus(s.accessToken) === 401, 2000)).toBe(true);
      expect(await adminStatus(s.accessToken)).toBe(401);
    }
    const next = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: second.refreshToken },
    });
    expect(next.status).toBe(401);
  });

  it("a refresh racing the logout leaves nothing of the session alive", async () => {
    for (let i = 0; i < 10; i++) {
      const s = await refresh(h, await login(h));
      const [r, out] = await Promise.all([
        h.http("POST", "/v1/auth/refresh", { body: { refreshToken: s.refreshToken } }),
        h.http("POST", "/v1/auth/logout", { body: { refreshToken: s.refreshToken } }),
      ]);
      expect(out.status).toBe(204);
      if (r.status !== 200) continue;
      const won = r.body as unknown as Session;
      const again = await h.http("POST", "/v1/auth/refresh", {
        body: { refreshToken: won.refreshToken },
      });
      expect(again.status).toBe(401);
      expect(await until(() => gateStatus(won.accessToken) === 401, 2000)).toBe(true);
    }
  });

  it("the session's revocation outlives its newest token by the clock margin only", async () => {
    const a = await refresh(h, await login(h));
    const expiresAt = Date.parse(a.accessExpiresAt);
    const out = await h.http("POST", "/v1/auth/logout", {
      token: a.accessToken,
      body: { refreshToken: a.refreshToken },
    });
    expect(out.status).toBe(204);
    const jsm = await jetstreamManager(nc);
    const bucket = h.admin.names.revokedBucket;
    const m = await jsm.streams.getMessage(`KV_${bucket}`, {
      last_by_subj: `$KV.${bucket}.${sessionRevocationKey(sidOf(a.accessToken))}`,
    });
    const ttl = m?.header.get("Nats-TTL") ?? "";
    expect(ttl).toMatch(/^\d+s$/);
    const ttlMs = parseInt(ttl, 10) * 1000;
    // Outlives the newest token (else it would be good again before it expires), and not by
    // much more: 15 min session tokens, 30 s margin, whole seconds.
    expect(Date.now() + ttlMs).toBeGreaterThanOrEqual(expiresAt + REVOCATION_CLOCK_MARGIN_MS);
    expect(ttlMs).toBeLessThanOrEqual(900_000 + REVOCATION_CLOCK_MARGIN_MS + 2000);
    // The token's own id is not listed: its session names it.
    expect(list.has(jtiOf(a.accessToken))).toBe(false);
    // A second logout with the same credentials is harmless.
    const twice = await h.http("POST", "/v1/auth/logout", {
      token: a.accessToken,
      body: { refreshToken: a.refreshToken },
    });
    expect(twice.status).toBe(204);
  });

  it("a logout ends only sessions it holds a credential of; a token that is not one names none", async () => {
    const victim = await login(h);
    const own = await login(h);
    const api = await h.http("POST", "/v1/tokens", {
      token: own.accessToken,
      body: { name: "ci", scopes: ["read"] },
    });
    expect(api.status).toBe(201);
    const apiToken = api.body.token as string;
    const forged = victim.accessToken.replace(/\.[^.]+$/, ".AAAA");
    const before = list.size;
    const ended: Session[] = [];
    for (const token of [undefined, "kon1.x.y", forged, apiToken]) {
      const other = await login(h);
      ended.push(other);
      const r = await h.http("POST", "/v1/auth/logout", {
        ...(token ? { token } : {}),
        body: { refreshToken: other.refreshToken },
      });
      expect(r.status).toBe(204);
    }
    // One entry per logout: the session of its refresh token, nothing for the Bearer.
    expect(await until(() => list.size === before + ended.length, 2000)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    expect(list.size).toBe(before + ended.length);
    for (const s of ended) expect(list.has(sessionRevocationKey(sidOf(s.accessToken)))).toBe(true);
    for (const t of [victim.accessToken, own.accessToken, apiToken]) {
      expect(await adminStatus(t)).toBe(200);
      expect(gateStatus(t)).toBe(200);
    }
  });

  it("the admin refuses an ended session at once from its database, with no revocation entry yet", async () => {
    // As when another admin instance ended it and its entry in the bucket has not arrived (or
    // the publish failed): only the database knows.
    const s = await login(h);
    expect(await adminStatus(s.accessToken)).toBe(200);
    const pg = new Client({ connectionString: h.db.url });
    await pg.connect();
    try {
      await pg.query(
        "UPDATE kon_admin.refresh_tokens SET revoked_at = now() WHERE family_id = $1",
        [sidOf(s.accessToken)],
      );
    } finally {
      await pg.end();
    }
    expect(list.has(sessionRevocationKey(sidOf(s.accessToken)))).toBe(false);
    expect(await adminStatus(s.accessToken)).toBe(401);
  });

  it("a logout with a valid access token of another session ends that session as well", async () => {
    const a = await login(h);
    const b = await login(h);
    const out = await h.http("POST", "/v1/auth/logout", {
      token: b.accessToken,
      body: { refreshToken: a.refreshToken },
    });
    expect(out.status).toBe(204);
    for (const s of [a, b]) {
      expect(await until(() => gateStatus(s.accessToken) === 401, 2000)).toBe(true);
      const r = await h.http("POST", "/v1/auth/refresh", {
        body: { refreshToken: s.refreshToken },
      });
      expect(r.status).toBe(401);
    }
  });
});

describe("revocations of signed-out sessions expire", () => {
  let h: AdminHarness;
  let nc: NatsConnection;
  let list: RevocationList;
  beforeAll(async () => {
    h = await AdminHarness.start();
    ({ nc, list } = await start(h));
  });
  afterAll(async () => {
    list?.close();
    await nc?.close();
    await h?.stop();
  });

  it("a TTL'd entry leaves the bucket and every RevocationList; API-token entries stay", async () => {
    const pub = new NatsRevocations(nc, h.admin.names, 1);
    await pub.publish("api-token-id", new Date());
    // The list looks again for a bucket that was missing at its start within a second.
    expect(await until(() => list.has("api-token-id"), 3000)).toBe(true);
    await pub.publishFor("session-jti", new Date(), 1000);
    expect(await until(() => list.has("session-jti"), 1000)).toBe(true);
    const kv = await new Kvm(nc).open(h.admin.names.revokedBucket);
    expect(await until(() => !list.has("session-jti"), 8000)).toBe(true);
    expect((await kv.get("session-jti"))?.operation ?? "gone").not.toBe("PUT");
    expect(list.has("api-token-id")).toBe(true);
    expect((await kv.get("api-token-id"))?.operation).toBe("PUT");
  });
});
