import type { KeyObject } from "node:crypto";
import { verifyAccessToken } from "../auth/access-token";
import type { AccessClaims, Scope } from "../auth/access-token";
import { EdgeCode, edgeRefusal } from "./edge-refusal";
import type { EdgeRefusal } from "./edge-refusal";

/** What the gate needs of a revocation list (`RevocationList` has it). */
export interface RevocationView {
  has(jti: string): boolean;
  readonly isReady: boolean;
}

export interface AccessGateOptions {
  /** The admin service's Ed25519 public key (`accessTokenPublicKey`). */
  publicKey: KeyObject;
  /** Revoked token ids; while it has not been read yet, tokens are refused with 503. */
  revocations?: RevocationView;
  /** Scope every request needs. */
  requiredScope: Scope;
  /** Clock, ms since the epoch. @default Date.now */
  now?: () => number;
}

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
  constructor(private readonly opts: AccessGateOptions) {}

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
    const verdict = verifyAccessToken(this.opts.publicKey, token, {
      now: (this.opts.now ?? Date.now)(),
      requiredScope: this.opts.requiredScope,
      ...(revocations ? { isRevoked: (jti: string) => revocations.has(jti) } : {}),
    });
    if (verdict.ok) return { claims: verdict.claims };
    if (verdict.reason === "insufficient_scope") {
      return edgeRefusal(
        403,
        EdgeCode.Forbidden,
        `this needs a token with the '${this.opts.requiredScope}' scope`,
        {},
        { requiredScope: this.opts.requiredScope },
      );
    }
    return unauthorized();
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
