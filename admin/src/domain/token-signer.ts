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

  /** A session of a signed-in admin: every scope, for `ttlMs`. */
  session(adminId: string, nowMs: number, ttlMs: number): IssuedToken {
    return this.sign("session", adminId, ["admin"], nowMs, ttlMs);
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
  ): IssuedToken {
    const iat = Math.floor(nowMs / 1000);
    const exp = ttlMs === undefined ? undefined : iat + Math.max(1, Math.ceil(ttlMs / 1000));
    const jti = newTokenId();
    const token = signAccessToken(this.privateKey, { typ, sub, scopes, iat, exp, jti, groups });
    return { token, id: jti, expiresAt: exp === undefined ? null : new Date(exp * 1000) };
  }
}
