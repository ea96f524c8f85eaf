import { statSync } from "node:fs";
import { dirname } from "node:path";
import { Client } from "pg";
import { AdminHarness, errorOf } from "./helpers/admin-harness";

// Sign-up with the bootstrap token and invitations, sign-in, refresh rotation and reuse, session
// expiry, and the refusals that must not tell an unknown admin from a wrong password.

let h: AdminHarness;
beforeAll(async () => {
  // A short reuse grace period, so a replay after it is reuse (refresh-grace.int tests the grace).
  h = await AdminHarness.start({
    sessionTtlMs: 1500,
    loginRatePerMin: 8,
    refreshReuseGraceMs: 300,
  });
});
afterAll(async () => {
  await h?.stop();
});

describe("bootstrap and sign-up", () => {
  it("writes a one-time bootstrap token to a 0600 file in a 0700 directory, never to the log", () => {
    const token = h.bootstrapToken();
    expect(token).toMatch(/^kb_[A-Za-z0-9_-]{43}$/);
    expect(statSync(h.bootstrapFile).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(h.bootstrapFile)).mode & 0o777).toBe(0o700);
    expect(h.log.text()).toContain(h.bootstrapFile);
    expect(h.log.text()).not.toContain(token);
  });

  it("keeps the same token across a restart while no admin exists", async () => {
    const before = h.bootstrapToken();
    await h.admin.close();
    await h.startAdmin({ sessionTtlMs: 1500, loginRatePerMin: 8, refreshReuseGraceMs: 300 });
    expect(h.bootstrapToken()).toBe(before);
  });

  it("refuses a wrong bootstrap token, accepts the right one once, then never again", async () => {
    const bad = await h.http("POST", "/v1/auth/signup", {
      body: { email: "a@example.org", password: "long enough password", bootstrapToken: "kb_nope" },
    });
    expect(bad.status).toBe(401);
    const token = h.bootstrapToken();
    const ok = await h.http("POST", "/v1/auth/signup", {
      body: { email: "Root@Example.org", password: "correct horse battery", bootstrapToken: token },
    });
    expect(ok.status).toBe(201);
    expect(ok.body.email).toBe("root@example.org");
    const again = await h.http("POST", "/v1/auth/signup", {
      body: { email: "b@example.org", password: "long enough password", bootstrapToken: token },
    });
    expect(again.status).toBe(401);
    expect(errorOf(again)).toEqual(errorOf(bad));
  });

  it("stores passwords as argon2id, never in clear", async () => {
    const c = new Client({ connectionString: h.db.url });
    await c.connect();
    try {
      const r = await c.query<{ password_hash: string }>(
        `SELECT password_hash FROM kon_admin.admins`,
      );
      expect(r.rows[0]!.password_hash).toMatch(/^\$argon2id\$/);
      const dump = await c.query(`SELECT * FROM kon_admin.admins`);
      expect(JSON.stringify(dump.rows)).not.toContain("correct horse battery");
    } finally {
      await c.end();
    }
  });

  it("later admins need an invitation: one-time, bound to its email when given", async () => {
    const session = await login("root@example.org", "correct horse battery");
    const inv = await h.http("POST", "/v1/invitations", {
      token: session.accessToken,
      body: { email: "second@example.org" },
    });
    expect(inv.status).toBe(201);
    const invitation = inv.body.invitation as string;
    const wrongEmail = await h.http("POST", "/v1/auth/signup", {
      body: { email: "other@example.org", password: "another long password", invitation },
    });
    expect(wrongEmail.status).toBe(401);
    // The failed attempt above spent the invitation; a new one for the real sign-up.
    const inv2 = await h.http("POST", "/v1/invitations", {
      token: session.accessToken,
      body: { email: "second@example.org" },
    });
    const ok = await h.http("POST", "/v1/auth/signup", {
      body: {
        email: "second@example.org",
        password: "another long password",
        invitation: inv2.body.invitation,
      },
    });
    expect(ok.status).toBe(201);
    const reuse = await h.http("POST", "/v1/auth/signup", {
      body: {
        email: "third@example.org",
        password: "another long password",
        invitation: inv2.body.invitation,
      },
    });
    expect(reuse.status).toBe(401);
  });

  it("an expired invitation is refused", async () => {
    const session = await login("root@example.org", "correct horse battery");
    const inv = await h.http("POST", "/v1/invitations", {
      token: session.accessToken,
      body: { ttlMs: 1000 },
    });
    await new Promise((r) => setTimeout(r, 1100));
    const late = await h.http("POST", "/v1/auth/signup", {
      body: {
        email: "late@example.org",
        password: "another long password",
        invitation: inv.body.invitation,
      },
    });
    expect(late.status).toBe(401);
  });

  it("validates input: short password, bad email, unknown field → 400 naming the field", async () => {
    const short = await h.http("POST", "/v1/auth/signup", {
      body: { email: "x@example.org", password: "short", invitation: "ki_x" },
    });
    expect(short.status).toBe(400);
    expect(errorOf(short)).toMatchObject({ code: "INVALID_INPUT", details: { field: "password" } });
    const extra = await h.http("POST", "/v1/auth/login", {
      body: { email: "x@example.org", password: "p", admin: true },
    });
    expect(extra.status).toBe(400);
    const notJson = await h.http("POST", "/v1/auth/login", { raw: "{nope" });
    expect(notJson.status).toBe(400);
    const huge = await h.http("POST", "/v1/auth/login", {
      body: { email: "x@example.org", password: "p".repeat(20_000) },
    });
    expect(huge.status).toBe(413);
    expect(errorOf(huge).code).toBe("PAYLOAD_TOO_LARGE");
  });
});

async function login(email: string, password: string) {
  const l = await h.http("POST", "/v1/auth/login", { body: { email, password } });
  if (l.status !== 200) throw new Error(`login ${l.status}: ${l.text}`);
  return l.body as { accessToken: string; refreshToken: string };
}

describe("sign-in, refresh, expiry", () => {
  it("a wrong password and an unknown admin get the same answer", async () => {
    const wrong = await h.http("POST", "/v1/auth/login", {
      body: { email: "second@example.org", password: "not the password" },
    });
    const unknown = await h.http("POST", "/v1/auth/login", {
      body: { email: "nobody@example.org", password: "not the password" },
    });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(unknown.text).toBe(wrong.text);
  });

  it("refresh rotates; presenting a used refresh token revokes the whole family", async () => {
    const first = await login("second@example.org", "another long password");
    const r1 = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: first.refreshToken },
    });
    expect(r1.status).toBe(200);
    expect(r1.body.refreshToken).not.toBe(first.refreshToken);
    const groups = await h.http("GET", "/v1/groups", { token: r1.body.accessToken as string });
    expect(groups.status).toBe(200);
    // The old one again, after the reuse grace period: a thief or a replay. Refused, and the
    // family with it.
    await new Promise((r) => setTimeout(r, 400));
    const replay = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: first.refreshToken },
    });
    expect(replay.status).toBe(401);
    const r2 = await h.http("POST", "/v1/auth/refresh", {
      body: { refreshToken: r1.body.refreshToken },
    });
    expect(r2.status).toBe(401);
  });

  it("logout revokes the refresh token", async () => {
    const s = await login("second@example.org", "another long password");
    expect(
      (await h.http("POST", "/v1/auth/logout", { body: { refreshToken: s.refreshToken } })).status,
    ).toBe(204);
    const r = await h.http("POST", "/v1/auth/refresh", { body: { refreshToken: s.refreshToken } });
    expect(r.status).toBe(401);
  });

  it("a session token stops working when it expires (401)", async () => {
    const s = await login("second@example.org", "another long password");
    expect((await h.http("GET", "/v1/groups", { token: s.accessToken })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 2100));
    const late = await h.http("GET", "/v1/groups", { token: s.accessToken });
    expect(late.status).toBe(401);
    expect(late.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("failed sign-ins are limited per source and email: 429 with Retry-After, then even the right password", async () => {
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof h.http>> | undefined;
    for (let i = 0; i < 10; i++) {
      last = await h.http("POST", "/v1/auth/login", {
        body: { email: "target@example.org", password: `guess ${i}` },
      });
      statuses.push(last.status);
    }
    // At most 8 failures a minute (shared with the failures of the tests above), then 429s.
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(8);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    if (last === undefined) throw new Error("no sign-in was attempted");
    expect(errorOf(last).code).toBe("RATE_LIMITED");
    expect(Number(last.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // While limited, even the right password is refused: the limit is not an oracle.
    const right = await h.http("POST", "/v1/auth/login", {
      body: { email: "second@example.org", password: "another long password" },
    });
    expect(right.status).toBe(429);
  });
});
