import { readFileSync, statSync } from "node:fs";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { RevocationList, accessTokenPublicKey, verifyAccessToken } from "@konorkestra/sdk/internal";
import { Client } from "pg";
import { AdminHarness, errorOf } from "./helpers/admin-harness";

// API tokens: scopes enforced, listed without secrets, revocable; the revocation reaches an
// offline verifier through NATS; /metrics and unknown paths need a token, /healthz does not.

let h: AdminHarness;
let nc: NatsConnection;
let session: string;
beforeAll(async () => {
  h = await AdminHarness.start();
  nc = await connect({ ...h.nats.clientOptions(), name: "tokens-test" });
  session = await h.firstAdmin();
});
afterAll(async () => {
  await nc?.close();
  await h?.stop();
});

async function apiToken(scopes: string[], ttlMs?: number) {
  const r = await h.http("POST", "/v1/tokens", {
    token: session,
    body: { name: `t-${scopes.join("-")}`, scopes, ...(ttlMs ? { ttlMs } : {}) },
  });
  if (r.status !== 201) throw new Error(r.text);
  return r.body as { token: string; id: string };
}

it("writes the signing key 0600 and its public key beside it, which verifies tokens offline", async () => {
  expect(statSync(h.signingKeyFile).mode & 0o777).toBe(0o600);
  const pub = accessTokenPublicKey(readFileSync(`${h.signingKeyFile}.pub`));
  const t = await apiToken(["read"]);
  const v = verifyAccessToken(pub, t.token, { requiredScope: "read" });
  expect(v).toMatchObject({ ok: true, claims: { typ: "api", scopes: ["read"], jti: t.id } });
});

it("enforces scopes: read may look, not write; write may not manage tokens (403)", async () => {
  const read = await apiToken(["read"]);
  const write = await apiToken(["write"]);
  expect((await h.http("GET", "/v1/groups", { token: read.token })).status).toBe(200);
  const denied = await h.http("POST", "/v1/groups", { token: read.token, body: { name: "g1" } });
  expect(denied.status).toBe(403);
  expect(errorOf(denied)).toMatchObject({ code: "FORBIDDEN", details: { requiredScope: "write" } });
  expect(
    (await h.http("POST", "/v1/groups", { token: write.token, body: { name: "g1" } })).status,
  ).toBe(201);
  expect((await h.http("GET", "/v1/tokens", { token: write.token })).status).toBe(403);
});

it("lists tokens without their secrets, and stores only a hash", async () => {
  const t = await apiToken(["read"]);
  const list = await h.http("GET", "/v1/tokens", { token: session });
  expect(list.status).toBe(200);
  expect(list.text).not.toContain(t.token);
  expect(list.text).not.toContain(t.token.split(".")[2]!);
  expect(list.body.tokens).toContainEqual(expect.objectContaining({ id: t.id, scopes: ["read"] }));
  const c = new Client({ connectionString: h.db.url });
  await c.connect();
  try {
    const rows = await c.query(`SELECT * FROM kon_admin.api_tokens`);
    expect(JSON.stringify(rows.rows)).not.toContain(t.token.split(".")[2]!);
  } finally {
    await c.end();
  }
});

it("an expired API token is refused (401)", async () => {
  const t = await apiToken(["read"], 1000);
  expect((await h.http("GET", "/v1/groups", { token: t.token })).status).toBe(200);
  await new Promise((r) => setTimeout(r, 2100));
  expect((await h.http("GET", "/v1/groups", { token: t.token })).status).toBe(401);
});

it("revocation: refused here at once, and published to a RevocationList on another connection", async () => {
  const list = RevocationList.start(nc, h.admin.names);
  try {
    await list.ready();
    const t = await apiToken(["read"]);
    expect(list.has(t.id)).toBe(false);
    const r = await h.http("DELETE", `/v1/tokens/${t.id}`, { token: session });
    expect(r.status).toBe(200);
    expect(r.body.revokedAt).toEqual(expect.any(String));
    const after = await h.http("GET", "/v1/groups", { token: t.token });
    expect(after.status).toBe(401);
    const end = Date.now() + 10_000;
    while (!list.has(t.id) && Date.now() < end) await new Promise((res) => setTimeout(res, 20));
    expect(list.has(t.id)).toBe(true);
    const pub = accessTokenPublicKey(h.admin.publicKeyPem);
    expect(verifyAccessToken(pub, t.token, { isRevoked: (j) => list.has(j) })).toMatchObject({
      ok: false,
      reason: "revoked",
    });
    expect((await h.http("DELETE", "/v1/tokens/nope", { token: session })).status).toBe(404);
  } finally {
    list.close();
  }
});

it("a token signed by another key, a malformed one and none all get 401", async () => {
  const forged = (await apiToken(["admin"])).token.replace(/\.[^.]+$/, ".AAAA");
  for (const token of [forged, "kon1.x.y", undefined]) {
    const r = await h.http("GET", "/v1/groups", { token });
    expect(r.status).toBe(401);
    expect(errorOf(r).code).toBe("UNAUTHORIZED");
  }
});

it("/healthz is open; /metrics and unknown paths need a token; no secret in /metrics", async () => {
  const health = await h.http("GET", "/healthz");
  expect(health.status).toBe(200);
  expect(health.body).toMatchObject({ postgres: true, nats: true });
  expect((await h.http("GET", "/metrics")).status).toBe(401);
  expect((await h.http("GET", "/v1/nothing-here")).status).toBe(401);
  const read = await apiToken(["read"]);
  expect((await h.http("GET", "/v1/nothing-here", { token: read.token })).status).toBe(404);
  const metrics = await h.http("GET", "/metrics", { token: read.token });
  expect(metrics.status).toBe(200);
  expect(metrics.text).toContain("kon_admin_http_seconds");
  expect(metrics.text).not.toMatch(/kon1\.|kb_|ki_|kr_/);
});
