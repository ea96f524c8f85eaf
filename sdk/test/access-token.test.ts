import { generateKeyPairSync, sign } from "node:crypto";
import {
  accessTokenPublicKey,
  newTokenId,
  scopeAllows,
  sessionRevocationKey,
  signAccessToken,
  verifyAccessToken,
} from "../src/auth/access-token";
import type { AccessClaims } from "../src/auth/access-token";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const other = generateKeyPairSync("ed25519");
const NOW = Date.UTC(2030, 0, 1);
const nowSec = NOW / 1000;

function claims(over: Partial<AccessClaims> = {}): AccessClaims {
  return {
    typ: "api",
    sub: "adm_1",
    scopes: ["read"],
    iat: nowSec,
    exp: nowSec + 60,
    jti: newTokenId(),
    ...over,
  };
}

describe("access tokens", () => {
  it("round-trips: kon1.<claims>.<signature>, claims as signed", () => {
    const c = claims({ scopes: ["write"] });
    const token = signAccessToken(privateKey, c);
    expect(token).toMatch(/^kon1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const v = verifyAccessToken(publicKey, token, { now: NOW, requiredScope: "read" });
    expect(v).toEqual({ ok: true, claims: c });
  });

  it("refuses a token signed by another key, and a body changed after signing", () => {
    const token = signAccessToken(other.privateKey, claims());
    expect(verifyAccessToken(publicKey, token, { now: NOW })).toMatchObject({
      ok: false,
      reason: "bad_signature",
    });
    const [v, , sig] = signAccessToken(privateKey, claims()).split(".");
    const forged = Buffer.from(JSON.stringify(claims({ scopes: ["admin"] }))).toString("base64url");
    expect(verifyAccessToken(publicKey, `${v}.${forged}.${sig}`, { now: NOW })).toMatchObject({
      ok: false,
      reason: "bad_signature",
    });
  });

  it("refuses an expired token at exp, not before", () => {
    const token = signAccessToken(privateKey, claims({ exp: nowSec + 10 }));
    expect(verifyAccessToken(publicKey, token, { now: NOW + 9_999 }).ok).toBe(true);
    expect(verifyAccessToken(publicKey, token, { now: NOW + 10_000 })).toMatchObject({
      ok: false,
      reason: "expired",
    });
  });

  it("accepts a token without exp (an API token without a lifetime)", () => {
    const c = claims();
    delete c.exp;
    const token = signAccessToken(privateKey, c);
    expect(verifyAccessToken(publicKey, token, { now: NOW + 10 ** 12 }).ok).toBe(true);
  });

  it("refuses a revoked token id", () => {
    const c = claims();
    const token = signAccessToken(privateKey, c);
    const v = verifyAccessToken(publicKey, token, { now: NOW, isRevoked: (j) => j === c.jti });
    expect(v).toMatchObject({ ok: false, reason: "revoked" });
  });

  it("refuses every token of a revoked session; other sessions and tokens without one pass", () => {
    const first = claims({ typ: "session", sid: "fam_abc" });
    const second = claims({ typ: "session", sid: "fam_abc" });
    const otherSession = claims({ typ: "session", sid: "fam_xyz" });
    const noSession = claims({ typ: "session" });
    const listed = new Set([sessionRevocationKey("fam_abc")]);
    const isRevoked = (k: string): boolean => listed.has(k);
    for (const c of [first, second]) {
      const v = verifyAccessToken(publicKey, signAccessToken(privateKey, c), {
        now: NOW,
        isRevoked,
      });
      expect(v).toMatchObject({ ok: false, reason: "revoked" });
    }
    for (const c of [otherSession, noSession]) {
      const v = verifyAccessToken(publicKey, signAccessToken(privateKey, c), {
        now: NOW,
        isRevoked,
      });
      expect(v).toEqual({ ok: true, claims: c });
    }
    // The session key can never be mistaken for a token id, nor a token id for a session key.
    expect(sessionRevocationKey("fam_abc")).toBe("sid.fam_abc");
    const named = claims({ jti: "fam_abc" });
    expect(
      verifyAccessToken(publicKey, signAccessToken(privateKey, named), { now: NOW, isRevoked }).ok,
    ).toBe(true);
  });

  it("refuses a malformed session id", () => {
    for (const sid of ["", "a.b", "x".repeat(65), 7]) {
      const body = Buffer.from(JSON.stringify({ ...claims(), sid })).toString("base64url");
      const head = `kon1.${body}`;
      const sig = sign(null, Buffer.from(head, "ascii"), privateKey).toString("base64url");
      expect(verifyAccessToken(publicKey, `${head}.${sig}`, { now: NOW })).toMatchObject({
        ok: false,
        reason: "malformed",
      });
    }
  });

  it("scopes nest: admin ⊇ write ⊇ read", () => {
    expect(scopeAllows(["admin"], "read")).toBe(true);
    expect(scopeAllows(["write"], "read")).toBe(true);
    expect(scopeAllows(["read"], "write")).toBe(false);
    expect(scopeAllows(["write"], "admin")).toBe(false);
    const token = signAccessToken(privateKey, claims({ scopes: ["read"] }));
    const v = verifyAccessToken(publicKey, token, { now: NOW, requiredScope: "write" });
    expect(v).toMatchObject({ ok: false, reason: "insufficient_scope" });
    if (!v.ok) expect(v.message).not.toContain(token);
  });

  it.each([
    ["empty", ""],
    ["two parts", "kon1.abc"],
    ["other version", "kon2.abc.def"],
    ["not base64url", "kon1.a+b.c/d"],
    ["too long", `kon1.${"a".repeat(5000)}.b`],
  ])("refuses a malformed token (%s)", (_what, token) => {
    expect(verifyAccessToken(publicKey, token, { now: NOW })).toMatchObject({
      ok: false,
      reason: "malformed",
    });
  });

  it("refuses correctly signed claims that break the rules (unknown field, bad scope)", () => {
    for (const bad of [
      { ...claims(), extra: 1 },
      { ...claims(), scopes: ["root"] },
      { ...claims(), jti: "has space" },
    ]) {
      const head = `kon1.${Buffer.from(JSON.stringify(bad)).toString("base64url")}`;
      const sig = sign(null, Buffer.from(head), privateKey).toString("base64url");
      expect(verifyAccessToken(publicKey, `${head}.${sig}`, { now: NOW })).toMatchObject({
        ok: false,
        reason: "malformed",
      });
    }
  });

  it("will not sign invalid claims, and loads only Ed25519 public keys", () => {
    expect(() => signAccessToken(privateKey, claims({ scopes: [] }))).toThrow(/scopes/);
    const pem = publicKey.export({ type: "spki", format: "pem" });
    expect(accessTokenPublicKey(pem).asymmetricKeyType).toBe("ed25519");
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey;
    expect(() => accessTokenPublicKey(rsa.export({ type: "spki", format: "pem" }))).toThrow(
      /Ed25519/,
    );
  });
});
