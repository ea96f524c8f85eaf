import { generateKeyPairSync } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { newTokenId, signAccessToken } from "@konorkestra/sdk/internal";
import type { AccessClaims, Scope } from "@konorkestra/sdk/internal";

/** A signing key pair standing in for the admin service's, to mint access tokens in tests. */
export interface TestTokens {
  /** PEM file of the public key, for a service's `authPublicKeyFile` / KON_AUTH_PUBLIC_KEY_FILE. */
  readonly publicKeyFile: string;
  readonly publicKeyPem: string;
  readonly privateKey: KeyObject;
  /**
   * A signed `kon1` access token holding `scopes`. `ttlSec` gives it an expiry (negative: already
   * expired); `jti` names it (for a revocation test); `typ` defaults to `api`; `groups` limits
   * it to those groups (the claim API tokens may carry).
   */
  mint(
    scopes: Scope[],
    opts?: {
      ttlSec?: number;
      jti?: string;
      typ?: AccessClaims["typ"];
      sub?: string;
      groups?: string[];
    },
  ): string;
  /** `{ authorization: "Bearer <token>" }` for a token with `scopes` (default `read`). */
  header(scopes?: Scope[]): { authorization: string };
  /** Removes the key file. */
  remove(): void;
}

/** A fresh Ed25519 key pair with its public key written (0600) to a temporary PEM file. */
export function createTestTokens(): TestTokens {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const dir = mkdtempSync(join(process.env.KON_TEST_TMPDIR ?? tmpdir(), "kon-tokens-"));
  const publicKeyFile = join(dir, "admin-signing.pem.pub");
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
  writeFileSync(publicKeyFile, publicKeyPem, { mode: 0o600 });
  const mint: TestTokens["mint"] = (scopes, opts = {}) => {
    const now = Math.floor(Date.now() / 1000);
    // An already-expired token still needs exp > iat: its iat moves back with it.
    const iat = opts.ttlSec !== undefined && opts.ttlSec <= 0 ? now + opts.ttlSec - 60 : now;
    return signAccessToken(privateKey, {
      typ: opts.typ ?? "api",
      sub: opts.sub ?? "test-admin",
      scopes,
      iat,
      ...(opts.ttlSec !== undefined ? { exp: now + opts.ttlSec } : {}),
      jti: opts.jti ?? newTokenId(),
      ...(opts.groups ? { groups: opts.groups } : {}),
    });
  };
  return {
    publicKeyFile,
    publicKeyPem,
    privateKey,
    mint,
    header: (scopes = ["read"]) => ({ authorization: `Bearer ${mint(scopes)}` }),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

let shared: TestTokens | undefined;

/**
 * One {@link createTestTokens} per process (a Jest worker), removed when it exits: what test
 * helpers use so that every service a test file starts trusts the tokens its requests carry.
 */
export function sharedTestTokens(): TestTokens {
  if (!shared) {
    const tokens = createTestTokens();
    shared = tokens;
    process.once("exit", () => tokens.remove());
  }
  return shared;
}
