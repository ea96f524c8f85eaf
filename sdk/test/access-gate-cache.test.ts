import { generateKeyPairSync } from "node:crypto";
import { AccessGate, newTokenId, sessionRevocationKey, signAccessToken } from "../src/internal";
import type { Scope } from "../src/internal";

// The gate remembers tokens whose signature verified; what changes with time (expiry, the
// revocation list) must still be checked on every request.
describe("AccessGate verified-token cache", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const iat = 1_800_000_000;
  const mint = (
    extra: { exp?: number; jti?: string; scopes?: Scope[]; sid?: string } = {},
  ): string =>
    `Bearer ${signAccessToken(privateKey, {
      typ: extra.sid !== undefined ? "session" : "api",
      sub: "admin-1",
      scopes: extra.scopes ?? ["read"],
      iat,
      jti: extra.jti ?? newTokenId(),
      ...(extra.exp !== undefined ? { exp: extra.exp } : {}),
      ...(extra.sid !== undefined ? { sid: extra.sid } : {}),
    })}`;
  const status = (r: ReturnType<AccessGate["check"]>): number => ("status" in r ? r.status : 200);

  test("the signature of a token is checked once, not per request", () => {
    const gate = new AccessGate({ publicKey, requiredScope: "read", now: () => iat * 1000 });
    const token = mint();
    for (let i = 0; i < 5; i++) expect(status(gate.check(token))).toBe(200);
    expect(gate.signatureCheckCount).toBe(1);
    const off = new AccessGate({ publicKey, requiredScope: "read", verifiedTokens: 0 });
    for (let i = 0; i < 3; i++) expect(status(off.check(token))).toBe(200);
    expect(off.signatureCheckCount).toBe(3);
  });

  test("a cached token revoked since is refused on its next request, and again after", () => {
    const revoked = new Set<string>();
    const gate = new AccessGate({
      publicKey,
      requiredScope: "read",
      now: () => iat * 1000,
      revocations: { has: (j) => revoked.has(j), isReady: true },
    });
    const token = mint({ jti: "tok-1" });
    expect(status(gate.check(token))).toBe(200);
    expect(status(gate.check(token))).toBe(200);
    revoked.add("tok-1");
    expect(status(gate.check(token))).toBe(401);
    expect(status(gate.check(token))).toBe(401);
    expect(gate.signatureCheckCount).toBe(1);
  });

  test("cached tokens of a session signed out since are refused, every one of them", () => {
    const revoked = new Set<string>();
    const gate = new AccessGate({
      publicKey,
      requiredScope: "read",
      now: () => iat * 1000,
      revocations: { has: (k) => revoked.has(k), isReady: true },
    });
    const [first, second, other] = [
      mint({ sid: "fam_1" }),
      mint({ sid: "fam_1" }),
      mint({ sid: "fam_2" }),
    ];
    for (const t of [first, second, other]) expect(status(gate.check(t))).toBe(200);
    revoked.add(sessionRevocationKey("fam_1"));
    for (const t of [first, second]) {
      expect(status(gate.check(t))).toBe(401);
      expect(status(gate.check(t))).toBe(401);
    }
    expect(status(gate.check(other))).toBe(200);
    expect(gate.signatureCheckCount).toBe(3);
  });

  test("a cached token is refused from its expiry second on", () => {
    let nowMs = iat * 1000;
    const gate = new AccessGate({ publicKey, requiredScope: "read", now: () => nowMs });
    const token = mint({ exp: iat + 60 });
    expect(status(gate.check(token))).toBe(200);
    nowMs = (iat + 60) * 1000 - 1;
    expect(status(gate.check(token))).toBe(200);
    nowMs = (iat + 60) * 1000;
    expect(status(gate.check(token))).toBe(401);
    expect(gate.signatureCheckCount).toBe(1);
  });

  test("a bad signature is never remembered; the cache is bounded, least recently used out", () => {
    const gate = new AccessGate({
      publicKey,
      requiredScope: "read",
      now: () => iat * 1000,
      verifiedTokens: 2,
    });
    const good = mint();
    const forged = `${good.slice(0, -4)}${good.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
    expect(status(gate.check(forged))).toBe(401);
    expect(status(gate.check(forged))).toBe(401);
    expect(gate.signatureCheckCount).toBe(2);
    const [a, b, c] = [mint(), mint(), mint()];
    gate.check(a);
    gate.check(b);
    gate.check(a); // a is now the most recent: b goes when c comes
    gate.check(c);
    expect(gate.signatureCheckCount).toBe(5);
    gate.check(a);
    expect(gate.signatureCheckCount).toBe(5);
    gate.check(b);
    expect(gate.signatureCheckCount).toBe(6);
  });

  test("a scope too narrow is 403 every time; claims handed out cannot be changed", () => {
    const strict = new AccessGate({ publicKey, requiredScope: "write", now: () => iat * 1000 });
    const token = mint();
    expect(status(strict.check(token))).toBe(403);
    expect(status(strict.check(token))).toBe(403);
    const gate = new AccessGate({ publicKey, requiredScope: "read", now: () => iat * 1000 });
    const wide = mint({ scopes: ["admin"] });
    const r = gate.check(wide);
    expect("claims" in r && Object.isFrozen(r.claims.scopes)).toBe(true);
    expect(() => {
      if ("claims" in r) r.claims.scopes.push("read");
    }).toThrow();
  });
});
