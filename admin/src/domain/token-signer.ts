import type { KeyObject } from "node:crypto";
import { newTokenId, signAccessToken, verifyAccessToken } from "@konorkestra/sdk/internal";
import type { AccessVerdict, Scope, VerifyAccessOptions } from "@konorkestra/sdk/internal";

/** A signed token and when it stops being valid. */
export interface IssuedToken {
  token: string;
  id: string;
  expiresAt: Date | null;
}

/** Signs and verifies the admin service's access tokens with its Ed25519 key pair. */
export class TokenSigner {
  constructor(
    private readonly privateKey: KeyObject,
    private readonly publicKey: KeyObject,
  ) {}

  /**
   * An access token of a signed-in admin's session `sessionId` (its `sid`, the same across the
   * session's refreshes): every scope, for `ttlMs`.
   */
  session(adminId: string, sessionId: string, nowMs: number, ttlMs: number): IssuedToken {
    return this.sign("session", adminId, ["admin"], nowMs, ttlMs, undefined, sessionId);
  }

  /** When a token signed at `nowMs` for `ttlMs` expires (whole seconds, as in its `exp`). */
  static expiry(nowMs: number, ttlMs: number): Date {
    return new Date(expSeconds(nowMs, ttlMs) * 1000);
  }

  /**
   * An API token; `ttlMs` undefined: no expiry (revocation ends it); `groups` undefined: every
   * group, else only those.
   */
  api(
    adminId: string,
    scopes: Scope[],
    nowMs: number,
    ttlMs?: number,
    groups?: string[],
  ): IssuedToken {
    return this.sign("api", adminId, scopes, nowMs, ttlMs, groups);
  }

  verify(token: string, opts: VerifyAccessOptions): AccessVerdict {
    return verifyAccessToken(this.publicKey, token, opts);
  }

  private sign(
    typ: "session" | "api",
    sub: string,
    scopes: Scope[],
    nowMs: number,
    ttlMs: number | undefined,
    groups?: string[],
    sid?: string,
  ): IssuedToken {
    const iat = Math.floor(nowMs / 1000);
    const exp = ttlMs === undefined ? undefined : expSeconds(nowMs, ttlMs);
    const jti = newTokenId();
    const token = signAccessToken(this.privateKey, {
      typ,
      sub,
      scopes,
      iat,
      exp,
      jti,
      ...(sid !== undefined ? { sid } : {}),
      groups,
    });
    return { token, id: jti, expiresAt: exp === undefined ? null : new Date(exp * 1000) };
  }
}

function expSeconds(nowMs: number, ttlMs: number): number {
  return Math.floor(nowMs / 1000) + Math.max(1, Math.ceil(ttlMs / 1000));
}
