import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  AccessGate,
  HttpEdge,
  bearerToken,
  mergeAccessAuthOptions,
  mergeHttpEdgeOptions,
  newTokenId,
  readSecretFile,
  resolveAccessAuth,
  signAccessToken,
  verifyWebhookSignature,
  webhookSignature,
} from "../src/internal";
import type { EdgeRequest, Scope } from "../src/internal";

const req = (over: Partial<EdgeRequest>): EdgeRequest => ({
  method: "GET",
  host: "127.0.0.1:7003",
  localPort: 7003,
  origin: undefined,
  preflightMethod: undefined,
  ...over,
});

describe("Host allow-list", () => {
  const edge = new HttpEdge({ allowedHosts: ["dash.example.com", "api.example.com:8443"] });
  const status = (host: string | undefined, localPort = 7003) =>
    edge.screen(req({ host, localPort })).answer?.status ?? 200;

  test("loopback names pass on the service's own port only", () => {
    expect(status("127.0.0.1:7003")).toBe(200);
    expect(status("localhost:7003")).toBe(200);
    expect(status("LOCALHOST:7003")).toBe(200);
    expect(status("[::1]:7003")).toBe(200);
    expect(status("localhost:7004")).toBe(421);
    expect(status("localhost")).toBe(421); // port 80 implied
    expect(status("localhost", 80)).toBe(200);
  });

  test("a rebound attacker name, a missing or malformed Host is refused with 421", () => {
    for (const h of [
      "evil.example:7003",
      "127.0.0.1.evil.example:7003",
      undefined,
      "",
      "a b",
      "x:99999",
    ]) {
      const v = edge.screen(req({ host: h }));
      expect(v.answer?.status).toBe(421);
      expect(v.answer && "body" in v.answer && v.answer.body.error.code).toBe("HOST_NOT_ALLOWED");
    }
  });

  test("configured names: without a port any port, with a port only that one", () => {
    expect(status("dash.example.com")).toBe(200);
    expect(status("dash.example.com.:443")).toBe(200);
    expect(status("api.example.com:8443")).toBe(200);
    expect(status("api.example.com:443")).toBe(421);
  });

  test("'*' turns the check off; a bad entry is an error naming it", () => {
    expect(
      new HttpEdge({ allowedHosts: ["*"] }).screen(req({ host: "any.where" })).answer,
    ).toBeUndefined();
    expect(() => new HttpEdge({ allowedHosts: ["http://x"] })).toThrow(
      /invalid allowed host "http:\/\/x"/,
    );
  });
});

describe("CORS", () => {
  test("off by default: no header, a preflight is refused", () => {
    const edge = new HttpEdge();
    expect(edge.screen(req({ origin: "https://a.example" }))).toEqual({ headers: {} });
    const pre = edge.screen(
      req({ method: "OPTIONS", origin: "https://a.example", preflightMethod: "GET" }),
    );
    expect(pre.answer?.status).toBe(403);
  });

  test("a configured origin gets itself back; others nothing", () => {
    const edge = new HttpEdge({ corsOrigins: ["https://a.example"] });
    expect(edge.screen(req({ origin: "https://a.example" })).headers).toEqual({
      "Access-Control-Allow-Origin": "https://a.example",
      Vary: "Origin",
    });
    expect(edge.screen(req({ origin: "https://b.example" })).headers).toEqual({});
    const pre = edge.screen(
      req({ method: "OPTIONS", origin: "https://a.example", preflightMethod: "GET" }),
    );
    expect(pre.answer?.status).toBe(204);
    expect(pre.answer?.headers["Access-Control-Allow-Headers"]).toMatch(/Authorization/);
    expect(() => new HttpEdge({ corsOrigins: ["*"] })).toThrow(/invalid CORS origin/);
  });
});

describe("AccessGate", () => {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const other = generateKeyPairSync("ed25519");
  const now = Math.floor(Date.now() / 1000);
  const mint = (scopes: Scope[], extra: { exp?: number; jti?: string } = {}, key = privateKey) =>
    signAccessToken(key, {
      typ: "api",
      sub: "admin-1",
      scopes,
      iat: now - 10,
      jti: extra.jti ?? newTokenId(),
      ...(extra.exp !== undefined ? { exp: extra.exp } : {}),
    });
  const revoked = new Set<string>(["gone"]);
  const gate = new AccessGate({
    publicKey,
    requiredScope: "read",
    revocations: { has: (j) => revoked.has(j), isReady: true },
  });

  test("a token with the scope (or a wider one) passes", () => {
    for (const scopes of [["read"], ["write"], ["admin"]] as Scope[][]) {
      const r = gate.check(`Bearer ${mint(scopes)}`);
      expect("claims" in r).toBe(true);
    }
  });

  test("every kind of bad token gets the same 401 answer", () => {
    const answers = [
      undefined,
      "",
      "Basic abc",
      "Bearer ",
      "Bearer not-a-token",
      `Bearer ${mint(["read"], {}, other.privateKey)}`,
      `Bearer ${mint(["read"], { exp: now - 1 })}`,
      `Bearer ${mint(["read"], { jti: "gone" })}`,
    ].map((h) => gate.check(h));
    for (const a of answers) {
      expect("status" in a && a.status).toBe(401);
      expect(a).toEqual(answers[0]);
    }
  });

  test("a valid token without the scope is 403", () => {
    const strict = new AccessGate({ publicKey, requiredScope: "admin" });
    const r = strict.check(`Bearer ${mint(["read"])}`);
    expect("status" in r && r.status).toBe(403);
  });

  test("503 until the revocation list has been read", () => {
    const early = new AccessGate({
      publicKey,
      requiredScope: "read",
      revocations: { has: () => false, isReady: false },
    });
    const r = early.check(`Bearer ${mint(["read"])}`);
    expect("status" in r && r.status).toBe(503);
  });

  test("bearerToken reads only a well-formed header", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer  abc ")).toBe("abc");
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken("abc")).toBeUndefined();
  });
});

describe("webhook signature", () => {
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  test("the HMAC-SHA256 of the raw body verifies; anything else does not", () => {
    const sig = webhookSignature("s3cret-s3cret-s3cret", body);
    // Known answer, so the format is the git hosts' one and not just self-consistent.
    expect(webhookSignature("It's a Secret to Everybody", "Hello, World!")).toBe(
      "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
    );
    expect(verifyWebhookSignature("s3cret-s3cret-s3cret", body, sig)).toBe(true);
    expect(
      verifyWebhookSignature(
        "s3cret-s3cret-s3cret",
        body,
        sig.toUpperCase().replace("SHA256", "sha256"),
      ),
    ).toBe(true);
    expect(verifyWebhookSignature("other-secret-other", body, sig)).toBe(false);
    expect(
      verifyWebhookSignature("s3cret-s3cret-s3cret", Buffer.from(body.toString() + " "), sig),
    ).toBe(false);
    for (const h of [undefined, "", "sha256=", "sha1=" + "0".repeat(40), sig.slice(0, -2)]) {
      expect(verifyWebhookSignature("s3cret-s3cret-s3cret", body, h)).toBe(false);
    }
  });
});

describe("options", () => {
  const dir = mkdtempSync(join(tmpdir(), "kon-edge-"));

  test("env forms", () => {
    expect(
      mergeHttpEdgeOptions(
        {},
        { KON_HTTP_ALLOWED_HOSTS: "a.example, b.example:1", KON_HTTP_CORS_ORIGINS: "" },
      ),
    ).toEqual({ allowedHosts: ["a.example", "b.example:1"], corsOrigins: [] });
    expect(mergeAccessAuthOptions({}, { KON_AUTH: "off" })).toEqual({
      auth: false,
      authPublicKeyFile: undefined,
    });
  });

  test("tokens required without a key file is an error saying what to set", () => {
    expect(() => resolveAccessAuth({ auth: true }, "analytics")).toThrow(
      /KON_AUTH_PUBLIC_KEY_FILE.*KON_AUTH=off/,
    );
    expect(resolveAccessAuth({ auth: false }, "analytics")).toEqual({ mode: "off" });
  });

  test("a missing or wrong key file names the file, not the content", () => {
    expect(() =>
      resolveAccessAuth({ auth: true, authPublicKeyFile: join(dir, "nope.pem") }, "x"),
    ).toThrow(/nope\.pem: ENOENT/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 });
    const f = join(dir, "rsa.pub");
    writeFileSync(f, rsa.publicKey.export({ type: "spki", format: "pem" }));
    expect(() => resolveAccessAuth({ auth: true, authPublicKeyFile: f }, "x")).toThrow(
      /must be Ed25519/,
    );
    const good = join(dir, "ed.pub");
    writeFileSync(
      good,
      generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }),
    );
    expect(resolveAccessAuth({ auth: true, authPublicKeyFile: good }, "x").mode).toBe("on");
  });

  test("secret files: read trimmed; empty or short refused without echoing", () => {
    const f = join(dir, "secret");
    writeFileSync(f, "  0123456789abcdef0123\n");
    expect(readSecretFile(f, "webhook secret")).toBe("0123456789abcdef0123");
    writeFileSync(f, "short-one");
    expect(() => readSecretFile(f, "webhook secret")).toThrow(/too short a secret/);
    expect(() => readSecretFile(f, "webhook secret")).not.toThrow(/short-one/);
  });
});
