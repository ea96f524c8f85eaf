import type { KeyObject } from "node:crypto";
import { scopeAllows, tokenRevoked, verifyAccessToken } from "../auth/access-token";
import type { AccessClaims, Scope } from "../auth/access-token";
import { EdgeCode, edgeRefusal } from "./edge-refusal";
import type { EdgeRefusal } from "./edge-refusal";

/** What the gate needs of a revocation list (`RevocationList` has it). */
export interface RevocationView {
  /** True when the key (a token id, or `sessionRevocationKey(sid)`) is listed. */
  has(key: string): boolean;
  readonly isReady: boolean;
}

export interface AccessGateOptions {
  /** The admin service's Ed25519 public key (`accessTokenPublicKey`). */
  publicKey: KeyObject;
  /**
   * Revoked token ids and signed-out sessions; while it has not been read yet, tokens are
   * refused with 503.
   */
  revocations?: RevocationView;
  /** Scope every request needs. */
  requiredScope: Scope;
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number;
  /**
   * How many tokens whose signature verified are remembered (least recently used dropped first),
   * so a client's next request skips the Ed25519 check; 0 turns the cache off. Expiry, revocation
   * and scope are checked on every request all the same.
   * @default 4096
   */
  verifiedTokens?: number;
}

/** Default of {@link AccessGateOptions.verifiedTokens}. */
export const VERIFIED_TOKEN_CACHE = 4096;

const BEARER = /^Bearer[ ]+([^\s]+)[ ]*$/i;

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  return BEARER.exec(authorization)?.[1];
}

/**
 * Offline check of a request's access token (docs/wire-contract.md, "Access tokens"): signature
 * by the admin's key, expiry, the revocation list, then the scope. Every reason a token is not
 * valid — none, malformed, badly signed, expired, revoked — gets the same 401 answer, so a caller
 * learns nothing about which; a valid token without the scope gets 403.
 */
export class AccessGate {
  /** Signature-verified tokens and their claims, in order of last use (Map order: oldest first). */
  private readonly verified = new Map<string, AccessClaims>();
  private readonly cacheSize: number;
  private signatureChecks = 0;

  constructor(private readonly opts: AccessGateOptions) {
    this.cacheSize = Math.max(0, Math.floor(opts.verifiedTokens ?? VERIFIED_TOKEN_CACHE));
  }

  /** How many tokens had their signature checked (cache misses), since the gate was made. */
  get signatureCheckCount(): number {
    return this.signatureChecks;
  }

  /** The token's claims, or the answer to give instead of the route. */
  check(authorization: string | undefined): { claims: AccessClaims } | EdgeRefusal {
    const token = bearerToken(authorization);
    if (token === undefined) return unauthorized();
    const revocations = this.opts.revocations;
    if (revocations && !revocations.isReady) {
      // Not a verdict on the token: the list of revoked tokens has not been read yet.
      return edgeRefusal(
        503,
        EdgeCode.AuthUnavailable,
        "token revocation list not loaded yet; retry shortly",
        { "Retry-After": "1" },
      );
    }
    const nowMs = (this.opts.now ?? Date.now)();
    const known = this.verified.get(token);
    if (known !== undefined) {
      // A signature only ever verifies once per string: what changes with time is checked as
      // verifyAccessToken does, in its order (expiry, revocation, scope).
      if (known.exp !== undefined && nowMs / 1000 >= known.exp) return unauthorized();
      if (revocations && tokenRevoked(known, revocations)) return unauthorized();
      this.verified.delete(token);
      this.verified.set(token, known); // most recently used last
      if (!scopeAllows(known.scopes, this.opts.requiredScope)) return this.forbidden();
      return { claims: known };
    }
    this.signatureChecks++;
    const verdict = verifyAccessToken(this.opts.publicKey, token, {
      now: nowMs,
      requiredScope: this.opts.requiredScope,
      ...(revocations ? { isRevoked: (key: string) => revocations.has(key) } : {}),
    });
    if (verdict.ok) {
      this.remember(token, verdict.claims);
      return { claims: verdict.claims };
    }
    if (verdict.reason === "insufficient_scope") return this.forbidden();
    return unauthorized();
  }

  /** Keeps a verified token's claims (frozen: every request with the token shares them). */
  private remember(token: string, claims: AccessClaims): void {
    if (this.cacheSize === 0) return;
    Object.freeze(claims.scopes);
    if (claims.groups) Object.freeze(claims.groups);
    Object.freeze(claims);
    if (this.verified.size >= this.cacheSize) {
      const oldest = this.verified.keys().next();
      if (!oldest.done) this.verified.delete(oldest.value);
    }
    this.verified.set(token, claims);
  }

  private forbidden(): EdgeRefusal {
    return edgeRefusal(
      403,
      EdgeCode.Forbidden,
      `this needs a token with the '${this.opts.requiredScope}' scope`,
      {},
      { requiredScope: this.opts.requiredScope },
    );
  }
}

function unauthorized(): EdgeRefusal {
  return edgeRefusal(
    401,
    EdgeCode.Unauthorized,
    "a valid access token is required (Authorization: Bearer <token>)",
    { "WWW-Authenticate": 'Bearer realm="konorkestra"' },
  );
}
