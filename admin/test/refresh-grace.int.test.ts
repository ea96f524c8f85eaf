import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { sessionRevocationKey } from "@konorkestra/sdk/internal";
import type { RevocationList } from "@konorkestra/sdk/internal";
import { REVOCATION_CLOCK_MARGIN_MS } from "../src/domain/accounts";
import { AdminHarness } from "./helpers/admin-harness";
import { login as loginAs, sidOf, tokenGate, until } from "./helpers/session-helpers";
import type { Session } from "./helpers/session-helpers";

// Several processes of one client (kon commands run at once, two dashboard tabs, a script)
// refreshing with the same refresh token are not a thief: within the reuse grace period after
// the token's rotation (KON_ADMIN_REFRESH_REUSE_GRACE_MS, 10 s by default) each gets a pair of
// the same session, and the session stays live everywhere. After it, a used token still ends the
// session. And sign-out: a session access token alone is enough, the audit names who and which
// session, and the session's revocation outlives the token presented.

const EMAIL = "root@example.org";
const PASSWORD = "correct horse battery";

interface AuditItem {
  actor: string;
  action: string;
  target: string;
  result: string;
  detail: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let h: AdminHarness;
let nc: NatsConnection;
let list: RevocationList;
let gateStatus: (token: string) => number;

beforeAll(async () => {
  // The default grace period (no option given).
  h = await AdminHarness.start();
  await h.firstAdmin(EMAIL, PASSWORD);
  // As analytics and the monitor check tokens: an AccessGate over a RevocationList.
  ({ nc, list, gateStatus } = await tokenGate(h, "refresh-grace-test"));
});
afterAll(async () => {
  list?.close();
  await nc?.close();
  await h?.stop();
});

const adminStatus = async (token: string) => (await h.http("GET", "/v1/groups", { token })).status;

const login = (): Promise<Session> => loginAs(h, EMAIL, PASSWORD);

async function auditItems(): Promise<AuditItem[]> {
  const token = (await login()).accessToken;
  const r = await h.http("GET", "/v1/audit?limit=100", { token });
  if (r.status !== 200) throw new Error(r.text);
  return r.body.items as AuditItem[];
}

describe("within the reuse grace period", () => {
  it("three parallel refreshes with one token all get a pair of the same live session", async () => {
    for (let round = 0; round < 3; round++) {
      const s = await login();
      const answers = await Promise.all(
        [0, 1, 2].map(() =>
          h.http("POST", "/v1/auth/refresh", { body: { refreshToken: s.refreshToken } }),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
      const pairs = answers.map((a) => a.body as unknown as Session);
      expect(new Set(pairs.map((p) => p.refreshToken)).size).toBe(3);
      expect(new Set(pairs.map((p) => sidOf(p.accessToken)))).toEqual(
        new Set([sidOf(s.accessToken)]),
      );
      // Nothing ended the session: give a revocation, had there been one, time to spread.
      await sleep(300);
      expect(list.has(sessionRevocationKey(sidOf(s.accessToken)))).toBe(false);
      for (const p of [s, ...pairs]) {
        expect(await adminStatus(p.accessToken)).toBe(200);
        expect(gateStatus(p.accessToken)).toBe(200);
      }
      // Each new refresh token goes on as the session's.
      for (const p of pairs) {
        const next = await h.http("POST", "/v1/auth/refresh", {
          body: { refreshToken: p.refreshToken },
        });
        expect(next.status).toBe(200);
        expect(sidOf(next.body.accessToken as string)).toBe(sidOf(s.accessToken));
      }
    }
  });

  it("the answers in the grace period are audited apart from rotations", async () => {
    const s = await login();
    const target = sidOf(s.accessToken);
    await Promise.all(
      [0, 1, 2].map(() =>
        h.http("POST", "/v1/auth/refresh", { body: { refreshToken: s.refreshToken } }),
      ),
    );
    let mine: AuditItem[] = [];
    expect(
      await until(async () => {
        mine = (await auditItems()).filter(
          (e) => e.action === "auth.refresh" && e.target === target,
        );
        return mine.length === 3;
      }, 3000),
    ).toBe(true);
    expect(mine.every((e) => e.result === "ok" && e.actor === s.adminId)).toBe(true);
    expect(mine.map((e) => e.detail).sort()).toEqual([
      "",
      "within reuse grace",
      "within reuse grace",
    ]);
  });

  it("a used token of a signed-out session is refused, not answered", async () => {
    const s = await login();
    const r1 = await h.http("POST", "/v1/auth/refresh", { body: { refreshToken: s.refreshToken } });
    expect(r1.status).toBe(200);
    const out = await h.http("POST", "/v1/auth/logout", {
      body: { refreshToken: r1.body.refreshToken as string },
    });
    expect(out.status).toBe(204);
    const late = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: s.refreshToken },
    });
    expect(late.status).toBe(401);
  });
});

describe("sign-out", () => {
  it("with the session access token alone (no body): 204, and the session ends everywhere", async () => {
    const s = await login();
    const other = await login();
    for (const t of [s, other]) expect(gateStatus(t.accessToken)).toBe(200);
    const out = await h.http("POST", "/v1/auth/logout", { token: s.accessToken });
    expect(out.status).toBe(204);
    expect(await until(() => gateStatus(s.accessToken) === 401, 2000)).toBe(true);
    expect(await until(async () => (await adminStatus(s.accessToken)) === 401, 2000)).toBe(true);
    const again = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: s.refreshToken },
    });
    expect(again.status).toBe(401);
    expect(await adminStatus(other.accessToken)).toBe(200);
    // An empty body is the same.
    const t = await login();
    const empty = await h.http("POST", "/v1/auth/logout", { token: t.accessToken, body: {} });
    expect(empty.status).toBe(204);
    expect(await until(() => gateStatus(t.accessToken) === 401, 2000)).toBe(true);
  });

  it("with neither a refresh token nor a valid session token: 400", async () => {
    const none = await h.http("POST", "/v1/auth/logout", { body: {} });
    expect(none.status).toBe(400);
    const forged = await h.http("POST", "/v1/auth/logout", { token: "kon1.x.y" });
    expect(forged.status).toBe(400);
  });

  it("the audit names the session's admin and the session, never a token", async () => {
    const s = await login();
    const out = await h.http("POST", "/v1/auth/logout", { token: s.accessToken });
    expect(out.status).toBe(204);
    const r = await login();
    const byRefresh = await h.http("POST", "/v1/auth/logout", {
      body: { refreshToken: r.refreshToken },
    });
    expect(byRefresh.status).toBe(204);
    let items: AuditItem[] = [];
    expect(
      await until(async () => {
        items = (await auditItems()).filter((e) => e.action === "auth.logout");
        return [s, r].every((x) => items.some((e) => e.target === sidOf(x.accessToken)));
      }, 3000),
    ).toBe(true);
    for (const x of [s, r]) {
      const e = items.find((i) => i.target === sidOf(x.accessToken))!;
      expect(e).toMatchObject({ actor: x.adminId, result: "ok" });
      expect(x.adminId).toMatch(/^adm_/);
    }
    const text = JSON.stringify(items);
    for (const x of [s, r]) {
      expect(text).not.toContain(x.refreshToken);
      expect(text).not.toContain(x.accessToken);
    }
  });
});

describe("after a restart with other lifetimes", () => {
  let before: Session;
  beforeAll(async () => {
    // A session of the 15 min default, then the session lifetime lowered to 1 min and the
    // reuse grace period to 300 ms.
    before = await login();
    await h.admin.close();
    await h.startAdmin({ sessionTtlMs: 60_000, refreshReuseGraceMs: 300 });
  });

  it("a used token presented after the grace period ends the session everywhere", async () => {
    const first = await login();
    const second = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: first.refreshToken },
    });
    expect(second.status).toBe(200);
    await sleep(400);
    const reuse = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: first.refreshToken },
    });
    expect(reuse.status).toBe(401);
    for (const t of [first.accessToken, second.body.accessToken as string]) {
      expect(await until(() => gateStatus(t) === 401, 2000)).toBe(true);
      expect(await adminStatus(t)).toBe(401);
    }
    const next = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: second.body.refreshToken as string },
    });
    expect(next.status).toBe(401);
  });

  it("a signed-out session's entry outlives the token presented, not only the current lifetime", async () => {
    expect(await adminStatus(before.accessToken)).toBe(200);
    const expiresAt = Date.parse(before.accessExpiresAt);
    expect(expiresAt - Date.now()).toBeGreaterThan(10 * 60_000);
    const out = await h.http("POST", "/v1/auth/logout", {
      token: before.accessToken,
      body: { refreshToken: before.refreshToken },
    });
    expect(out.status).toBe(204);
    const jsm = await jetstreamManager(nc);
    const bucket = h.admin.names.revokedBucket;
    const m = await jsm.streams.getMessage(`KV_${bucket}`, {
      last_by_subj: `$KV.${bucket}.${sessionRevocationKey(sidOf(before.accessToken))}`,
    });
    const ttl = m?.header.get("Nats-TTL") ?? "";
    expect(ttl).toMatch(/^\d+s$/);
    const ttlMs = parseInt(ttl, 10) * 1000;
    expect(Date.now() + ttlMs).toBeGreaterThanOrEqual(expiresAt + REVOCATION_CLOCK_MARGIN_MS);
    expect(ttlMs).toBeLessThanOrEqual(900_000 + REVOCATION_CLOCK_MARGIN_MS + 2000);
  });
});
