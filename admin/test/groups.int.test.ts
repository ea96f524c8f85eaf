import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Client } from "pg";
import type { JoinKeyRevokedEvent } from "../src/domain/join-keys";
import { AdminHarness, errorOf } from "./helpers/admin-harness";

// Groups, their buckets and join keys against real NATS and PostgreSQL: the key's format and
// forgiving parser, the one refusal for every wrong key, rotation grace, revocation, deletion,
// rate limits, and that nothing tells a caller without rights whether a group exists.

let h: AdminHarness;
let nc: NatsConnection;
let token: string;
let readToken: string;
const revoked: JoinKeyRevokedEvent[] = [];
const deleted: string[] = [];
let hosts = 0;
/** A new client address for each check, so that only the tests about limits meet them. */
const src = (): { host: string } => ({ host: `10.9.${Math.floor(++hosts / 250)}.${hosts % 250}` });

beforeAll(async () => {
  h = await AdminHarness.start({ joinRatePerMin: 6, joinKeyGraceMs: 60_000 });
  nc = await connect({ ...h.nats.clientOptions(), name: "groups-test" });
  token = await h.firstAdmin();
  const t = await h.http("POST", "/v1/tokens", {
    token,
    body: { name: "dashboard", scopes: ["read"] },
  });
  readToken = t.body.token as string;
  h.admin.joinKeys.onJoinKeyRevoked((e) => revoked.push(e));
  h.admin.joinKeys.onGroupDeleted((e) => deleted.push(e.group));
});
afterAll(async () => {
  await nc?.close();
  await h?.stop();
});

async function createGroup(name: string): Promise<{ joinKey: string; keyId: string }> {
  const r = await h.http("POST", "/v1/groups", { token, body: { name } });
  if (r.status !== 201) throw new Error(`create ${name}: ${r.text}`);
  return r.body as { joinKey: string; keyId: string };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("groups", () => {
  it("creating a group creates cfg_<group> with the sdk's settings and a join key shown once", async () => {
    const g = await createGroup("alpha");
    expect(g.joinKey).toMatch(/^([0-9A-HJKMNP-TV-Z]{4}-){8}[0-9A-HJKMNP-TV-Z]{4}$/);
    expect(g.joinKey.replace(/-/g, "").slice(0, 8)).toBe(g.keyId);
    const info = await (await jetstreamManager(nc)).streams.info("KV_cfg_alpha");
    expect(info.config.max_msgs_per_subject).toBe(64);
    expect(info.config.allow_atomic).toBe(true);
    const registry = await new Kvm(nc).open("kon_groups");
    const rec = (await registry.get("alpha"))?.json<{ name: string; createdAtMs: number }>();
    expect(rec?.name).toBe("alpha");
    expect(typeof rec?.createdAtMs).toBe("number");
    const show = await h.http("GET", "/v1/groups/alpha", { token: readToken });
    expect(show.status).toBe(200);
    expect(JSON.stringify(show.body)).not.toContain(g.joinKey.slice(10));
    expect(show.body.keys).toEqual([expect.objectContaining({ keyId: g.keyId, revokedAt: null })]);
    const list = await h.http("GET", "/v1/groups", { token: readToken });
    expect(list.body.groups).toEqual([expect.objectContaining({ name: "alpha" })]);
  });

  it("stores only the key id and an argon2id hash of the secret", async () => {
    const g = await createGroup("hashed");
    const c = new Client({ connectionString: h.db.url });
    await c.connect();
    try {
      const r = await c.query(`SELECT * FROM kon_admin.join_keys WHERE group_name = 'hashed'`);
      const row = r.rows[0] as { key_id: string; secret_hash: string };
      expect(row.key_id).toBe(g.keyId);
      expect(row.secret_hash).toMatch(/^\$argon2id\$/);
      expect(JSON.stringify(r.rows)).not.toContain(g.joinKey.replace(/-/g, "").slice(8));
    } finally {
      await c.end();
    }
  });

  it("refuses a second group of the same name (409) and an invalid name (400)", async () => {
    const again = await h.http("POST", "/v1/groups", { token, body: { name: "alpha" } });
    expect(again.status).toBe(409);
    expect(errorOf(again).code).toBe("CONFLICT");
    const bad = await h.http("POST", "/v1/groups", { token, body: { name: "Bad Name" } });
    expect(bad.status).toBe(400);
    expect(errorOf(bad).details).toMatchObject({ field: "name" });
  });

  it("without rights nothing tells whether a group exists", async () => {
    for (const g of ["alpha", "no-such-group"]) {
      const anon = await h.http("DELETE", `/v1/groups/${g}`);
      expect(anon.status).toBe(401);
      const reader = await h.http("DELETE", `/v1/groups/${g}`, { token: readToken });
      expect(reader.status).toBe(403);
      const rotate = await h.http("POST", `/v1/groups/${g}/join-keys`, { token: readToken });
      expect(rotate.status).toBe(403);
      expect((await h.http("GET", `/v1/groups/${g}`)).status).toBe(401);
    }
    const a = await h.http("DELETE", "/v1/groups/alpha", { token: readToken });
    const b = await h.http("DELETE", "/v1/groups/no-such-group", { token: readToken });
    expect(a.text).toBe(b.text);
  });
});

describe("verifyJoinKey", () => {
  it("admits the right key, typed in any case, without dashes, with O/I/L look-alikes", async () => {
    const g = await createGroup("beta");
    const plain = g.joinKey;
    const sloppy = plain.toLowerCase().replace(/-/g, " ").replace(/0/g, "o").replace(/1/g, "l");
    for (const k of [plain, plain.replace(/-/g, ""), sloppy]) {
      await expect(h.admin.joinKeys.verifyJoinKey(k, src())).resolves.toEqual({
        ok: true,
        group: "beta",
        keyId: g.keyId,
      });
    }
  });

  it("a reconnect storm costs one check: 50 concurrent joins from one host all pass a 6/min limit", async () => {
    const g = await createGroup("storm");
    const host = { host: "10.5.0.1" };
    const verdicts = await Promise.all(
      Array.from({ length: 50 }, () => h.admin.joinKeys.verifyJoinKey(g.joinKey, host)),
    );
    expect(verdicts.every((v) => v.ok && v.group === "storm")).toBe(true);
    // And again later, from the cache.
    const again = await Promise.all(
      Array.from({ length: 50 }, () => h.admin.joinKeys.verifyJoinKey(g.joinKey, host)),
    );
    expect(again.every((v) => v.ok)).toBe(true);
  });

  it("a wrong secret, an unknown key id and garbage get the same refusal", async () => {
    const g = await createGroup("gamma");
    const chars = g.joinKey.replace(/-/g, "");
    const last = chars.at(-1) === "0" ? "1" : "0";
    const wrongSecret = chars.slice(0, -1) + last;
    const unknownId = (chars[0] === "Z" ? "Y" : "Z") + chars.slice(1);
    const verdicts = [];
    for (const [i, k] of [wrongSecret, unknownId, "not a key"].entries()) {
      verdicts.push(await h.admin.joinKeys.verifyJoinKey(k, { host: `10.1.0.${i}` }));
    }
    expect(verdicts).toEqual([
      { ok: false, reason: "refused" },
      { ok: false, reason: "refused" },
      { ok: false, reason: "refused" },
    ]);
  });

  it("wrong guesses for a key id from many sources never lock its correct key out, and are reported", async () => {
    const g = await createGroup("delta");
    const chars = g.joinKey.replace(/-/g, "");
    const guesses = [];
    for (let i = 0; i < 8; i++) {
      const guess = chars.slice(0, 8) + "0".repeat(27) + "ABCDEFGHJ"[i];
      guesses.push(await h.admin.joinKeys.verifyJoinKey(guess, { host: `10.2.0.${i}` }));
    }
    expect(guesses.every((v) => !v.ok && v.reason === "refused")).toBe(true);
    // No success was cached before the guesses: the correct key still gets in from a fresh source.
    expect((await h.admin.joinKeys.verifyJoinKey(g.joinKey, { host: "10.2.1.1" })).ok).toBe(true);
    expect(h.log.text()).toMatch(
      new RegExp(`join key id ${g.keyId}: more than \\d+ failed checks`),
    );
  });

  it("rate-limits checks per source", async () => {
    const verdicts = [];
    for (let i = 0; i < 8; i++) {
      verdicts.push(
        await h.admin.joinKeys.verifyJoinKey(`${"Q".repeat(8)}${String(i).repeat(28)}`, {
          host: "10.3.0.1",
        }),
      );
    }
    expect(verdicts[7]).toMatchObject({ ok: false, reason: "rate_limited" });
    const v = verdicts[7]!;
    if (!v.ok && v.reason === "rate_limited") expect(v.retryAfterMs).toBeGreaterThan(0);
  });

  it("rotation: the old key stays valid for the grace period, then is refused and announced", async () => {
    const g = await createGroup("epsilon");
    expect((await h.admin.joinKeys.verifyJoinKey(g.joinKey, src())).ok).toBe(true);
    const r = await h.http("POST", "/v1/groups/epsilon/join-keys", {
      token,
      body: { graceMs: 1500 },
    });
    expect(r.status).toBe(201);
    const fresh = r.body as { joinKey: string; keyId: string };
    expect(fresh.keyId).not.toBe(g.keyId);
    // Within the grace period both keys admit (the old one from the cache and from the store).
    expect((await h.admin.joinKeys.verifyJoinKey(g.joinKey, src())).ok).toBe(true);
    expect((await h.admin.joinKeys.verifyJoinKey(g.joinKey, { host: "10.4.0.1" })).ok).toBe(true);
    expect((await h.admin.joinKeys.verifyJoinKey(fresh.joinKey, src())).ok).toBe(true);
    await until("old key expiry announced", () =>
      revoked.some((e) => e.keyId === g.keyId && e.reason === "expired"),
    );
    expect(await h.admin.joinKeys.verifyJoinKey(g.joinKey, src())).toEqual({
      ok: false,
      reason: "refused",
    });
    expect((await h.admin.joinKeys.verifyJoinKey(fresh.joinKey, src())).ok).toBe(true);
  });

  it("a revoked key is refused at once, even right after a cached success", async () => {
    const g = await createGroup("zeta");
    expect((await h.admin.joinKeys.verifyJoinKey(g.joinKey, src())).ok).toBe(true);
    const r = await h.http("DELETE", `/v1/groups/zeta/join-keys/${g.keyId}`, { token });
    expect(r.status).toBe(204);
    expect(revoked).toContainEqual({ group: "zeta", keyId: g.keyId, reason: "revoked" });
    expect(await h.admin.joinKeys.verifyJoinKey(g.joinKey, src())).toEqual({
      ok: false,
      reason: "refused",
    });
    const unknown = await h.http("DELETE", `/v1/groups/zeta/join-keys/ZZZZZZZZ`, { token });
    expect(unknown.status).toBe(404);
  });

  it("deleting a group removes its bucket and keys and announces them", async () => {
    const g = await createGroup("eta");
    expect((await h.admin.joinKeys.verifyJoinKey(g.joinKey, src())).ok).toBe(true);
    const r = await h.http("DELETE", "/v1/groups/eta", { token });
    expect(r.status).toBe(204);
    expect(deleted).toContain("eta");
    expect(revoked).toContainEqual({ group: "eta", keyId: g.keyId, reason: "group_deleted" });
    await expect((await jetstreamManager(nc)).streams.info("KV_cfg_eta")).rejects.toThrow(
      /not found/,
    );
    expect((await (await new Kvm(nc).open("kon_groups")).get("eta"))?.operation).toBe("DEL");
    expect((await h.admin.joinKeys.verifyJoinKey(g.joinKey, src())).ok).toBe(false);
    expect((await h.http("GET", "/v1/groups/eta", { token })).status).toBe(404);
  });
});

describe("audit", () => {
  it("records every admin action with who, what, target, source and result, paged newest first", async () => {
    const page1 = await h.http("GET", "/v1/audit?limit=3", { token });
    expect(page1.status).toBe(200);
    const items = page1.body.items as { id: number; action: string; actor: string }[];
    expect(items).toHaveLength(3);
    expect(items[0]!.id).toBeGreaterThan(items[2]!.id);
    const all: { action: string; target: string; result: string; source: string }[] = [];
    let next: string | null = page1.body.next as string;
    all.push(...(page1.body.items as typeof all));
    while (next) {
      const p = await h.http("GET", `/v1/audit?limit=3&before=${next}`, { token });
      all.push(...(p.body.items as typeof all));
      next = p.body.next as string | null;
    }
    expect(all).toContainEqual(
      expect.objectContaining({ action: "group.delete", target: "eta", result: "ok" }),
    );
    expect(all).toContainEqual(
      expect.objectContaining({ action: "group.delete", result: "refused:403" }),
    );
    expect(all).toContainEqual(
      expect.objectContaining({ action: "group.create", target: "alpha", result: "refused:409" }),
    );
    expect(all.every((e) => e.source.length > 0)).toBe(true);
    expect((await h.http("GET", "/v1/audit", { token: readToken })).status).toBe(403);
  });
});
