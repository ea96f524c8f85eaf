import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import type { Logger } from "@konorkestra/sdk";
import type { AccessClaims } from "@konorkestra/sdk/internal";
import type { Pool } from "pg";
import { isUniqueViolation, withTransaction } from "../pg/transaction";
import type { PasswordHasher } from "../secrets/password-hasher";
import { writePrivateFile } from "../secrets/private-file";
import { randomToken, sameHash, tokenHash } from "../secrets/random-token";
import type { AccountStore } from "../store/account-store";
import type { RefreshTokenStore, RotateOutcome } from "../store/refresh-token-store";
import {
  AdminError,
  AdminErrorCode,
  BAD_CREDENTIALS,
  BAD_SIGNUP_TOKEN,
  rateLimited,
} from "./admin-error";
import type { RateLimiter } from "./rate-limiter";
import { TokenSigner } from "./token-signer";

/** What a sign-in or a refresh returns. */
export interface SessionPair {
  accessToken: string;
  accessExpiresAt: Date;
  refreshToken: string;
  refreshExpiresAt: Date;
  adminId: string;
  /** The session (refresh family) the pair belongs to: the `sid` of its access token. */
  sessionId: string;
  /**
   * A refresh answered in the reuse grace period: the token had just been rotated by another
   * request of the same client, and this is one more pair of the same session.
   */
  withinReuseGrace?: true;
}

/** What a sign-out ended: for the audit (never a token). */
export interface LogoutOutcome {
  /** The admin whose session it was (the Bearer token's, else the refresh token's); may be unknown. */
  adminId?: string;
  /** The sessions ended (refresh family ids), possibly none. */
  sessionIds: string[];
}

export interface AccountsDeps {
  pool: Pool;
  store: AccountStore;
  refresh: RefreshTokenStore;
  hasher: PasswordHasher;
  signer: TokenSigner;
  /** Failed sign-in and sign-up attempts, keyed `src:<address>` and `email:<address>`. */
  limiter: RateLimiter;
  logger: Logger;
  sessionTtlMs: number;
  refreshTtlMs: number;
  /**
   * How long after a refresh token was rotated it is still answered with a new pair of the same
   * session instead of being treated as reuse (a client's parallel refreshes); 0: never.
   * @default 0
   */
  refreshReuseGraceMs?: number;
  invitationTtlMs: number;
  bootstrapTokenFile: string;
  /**
   * Where a signed-out session is announced revoked (NATS KV `<prefix>_revoked`, with a TTL of
   * the longest life one of its access tokens can have left); absent: logout ends the refresh
   * family only.
   */
  sessionRevocations?: SessionRevocationPublisher;
  now?: () => number;
}

/**
 * How long a signed-out session's revocation stays in the list after its access token expired:
 * covers verifiers whose clocks are behind the admin's by up to this much.
 */
export const REVOCATION_CLOCK_MARGIN_MS = 30_000;

/** Publishes revocations that expire from the list after `ttlMs`. */
export interface SessionRevocationPublisher {
  /** One access token, by its id (`jti`). */
  publishFor(tokenId: string, revokedAt: Date, ttlMs: number): Promise<void>;
  /** Every access token of a session, by its session id (`sid`). */
  publishSessionFor(sessionId: string, revokedAt: Date, ttlMs: number): Promise<void>;
}

export interface SignupInput {
  email: string;
  password: string;
  bootstrapToken?: string;
  invitation?: string;
}

/**
 * Admins: the first one signs up with the one-time bootstrap token, later ones with an
 * invitation; sign-in gives a session token and a refresh token that rotates on each use (a used
 * one presented again revokes its whole family: it was stolen, or the client is confused;
 * except within the reuse grace period right after its rotation, when it is a client racing
 * itself and gets a new pair of the same session, as Auth0's and Okta's reuse interval does).
 * A sign-in is a session: its refresh family's id is the `sid` of every access token it gets, so
 * ending it (sign-out, a reused refresh token) revokes all of them at once.
 */
export class Accounts {
  private readonly now: () => number;

  constructor(private readonly d: AccountsDeps) {
    this.now = d.now ?? Date.now;
  }

  /**
   * While no admin exists, makes sure a bootstrap token exists and is in the bootstrap file
   * (0600): keeps a stored token the file still holds, otherwise writes a new one and stores only
   * its hash. Never logs the token. Returns what it did.
   */
  async ensureBootstrapToken(): Promise<"written" | "kept" | "not-needed"> {
    const file = this.d.bootstrapTokenFile;
    return withTransaction(this.d.pool, async (db) => {
      await this.d.store.lockBootstrap(db);
      if ((await this.d.store.countAdmins(db)) > 0) return "not-needed";
      const stored = await this.d.store.unusedBootstrapHash(db);
      const inFile = existsSync(file) ? readFileSync(file, "utf8").trim() : undefined;
      if (stored && inFile && sameHash(tokenHash(inFile), stored)) return "kept";
      const token = randomToken("kb");
      await this.d.store.replaceBootstrapToken(db, tokenHash(token));
      writePrivateFile(file, `${token}\n`);
      this.d.logger.info(`no admin yet: one-time bootstrap token written to ${file}`);
      return "written";
    });
  }

  /** Creates an admin from a bootstrap token or an invitation; returns the new admin's id. */
  async signup(input: SignupInput, source: string): Promise<{ adminId: string }> {
    const keys = [`src:${source}`];
    this.checkLimit(keys);
    try {
      return await this.createAdmin(input);
    } catch (err) {
      if (err instanceof AdminError && err.code === AdminErrorCode.Unauthorized) this.charge(keys);
      throw err;
    }
  }

  private async createAdmin(input: SignupInput): Promise<{ adminId: string }> {
    const email = input.email.toLowerCase();
    const token = input.bootstrapToken ?? input.invitation;
    if (!token || (input.bootstrapToken && input.invitation)) {
      throw new AdminError(
        AdminErrorCode.InvalidInput,
        "give exactly one of bootstrapToken or invitation",
      );
    }
    const passwordHash = await this.d.hasher.hash(input.password);
    const adminId = `adm_${randomBytes(12).toString("base64url")}`;
    const hash = tokenHash(token);
    await withTransaction(this.d.pool, async (db) => {
      let invitedBy: string | null = null;
      if (input.bootstrapToken) {
        await this.d.store.lockBootstrap(db);
        const first = (await this.d.store.countAdmins(db)) === 0;
        if (!first || !(await this.d.store.consumeBootstrapToken(db, hash))) {
          throw BAD_SIGNUP_TOKEN();
        }
      } else {
        const inv = await this.d.store.consumeInvitation(db, hash, new Date(this.now()));
        if (!inv || (inv.email !== null && inv.email !== email)) throw BAD_SIGNUP_TOKEN();
        invitedBy = inv.createdBy;
      }
      try {
        await this.d.store.insertAdmin(db, { id: adminId, email, passwordHash, invitedBy });
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new AdminError(AdminErrorCode.Conflict, "an admin with this email exists");
        }
        throw err;
      }
    });
    if (input.bootstrapToken) this.removeBootstrapFile(hash);
    return { adminId };
  }

  /**
   * Signs in. An unknown email and a wrong password get the same error after the same work
   * (an argon2 verification either way). Failures are limited per source and per email; while
   * either is over its limit every attempt is refused with RATE_LIMITED, the right password too.
   */
  async login(emailIn: string, password: string, source: string): Promise<SessionPair> {
    const email = emailIn.toLowerCase();
    const keys = [`src:${source}`, `email:${email}`];
    this.checkLimit(keys);
    const admin = await this.d.store.findByEmail(email);
    const ok = admin
      ? await this.d.hasher.verify(admin.passwordHash, password)
      : await this.d.hasher.verifyNothing(password);
    if (!admin || !ok) {
      this.charge(keys);
      throw BAD_CREDENTIALS();
    }
    return this.issue(admin.id, `fam_${randomBytes(12).toString("base64url")}`);
  }

  /**
   * Trades a refresh token for a new pair. A used one presented again within the reuse grace
   * period of its rotation, its session still live, gets a new pair of that session too (several
   * processes of one client refreshing at once); presented later, or once its session ended, it
   * ends the session.
   */
  async refresh(refreshToken: string): Promise<SessionPair> {
    const refused = (): AdminError =>
      new AdminError(AdminErrorCode.Unauthorized, "the refresh token is not valid");
    const row = await this.d.refresh.findByHash(tokenHash(refreshToken));
    if (!row || row.revokedAt) throw refused();
    if (!row.usedAt && row.expiresAt.getTime() <= this.now()) throw refused();
    const pair = await this.issue(row.adminId, row.familyId, row.id);
    if (pair) return pair;
    // Used before the grace period (or its family ended meanwhile by a sign-out): whoever holds
    // it, the session is not to be trusted any more.
    this.d.logger.warn(`refresh token reused: family ${row.familyId} revoked`);
    await this.endSession(row.familyId).catch((err: unknown) => {
      this.d.logger.error(`could not end session ${row.familyId}: ${String(err)}`);
    });
    throw refused();
  }

  /**
   * Ends a sign-in. The sessions named are ended: the refresh token's (unknown ones are ignored)
   * and the one of the session access token the request carried, if it is a valid one; at least
   * one of the two must be given. Ending a session revokes its refresh family and publishes its
   * session id revoked for as long as any of its access tokens can live, so every service
   * refuses all of them, those issued before its last refresh included, within about a second.
   * Anything else in the Authorization header (none, malformed, forged, expired, an API token)
   * names nothing.
   */
  async logout(refreshToken: string | undefined, authorization?: string): Promise<LogoutOutcome> {
    const claims = this.sessionClaims(authorization);
    if (refreshToken === undefined && !claims) {
      throw new AdminError(
        AdminErrorCode.InvalidInput,
        "invalid body: give refreshToken, or send a valid session access token as Bearer",
        { where: "body", field: "refreshToken", issue: "required without a session token" },
      );
    }
    const row =
      refreshToken === undefined
        ? undefined
        : await this.d.refresh.findByHash(tokenHash(refreshToken));
    const sessions = new Set<string>();
    if (row) sessions.add(row.familyId);
    if (claims?.sid !== undefined) sessions.add(claims.sid);
    for (const sid of sessions) {
      await this.endSession(sid, sid === claims?.sid ? claims.exp : undefined);
    }
    if (claims && claims.sid === undefined && claims.exp !== undefined) {
      // A token signed before session ids existed: only its own id names it.
      const now = this.now();
      const ttlMs = claims.exp * 1000 - now + REVOCATION_CLOCK_MARGIN_MS;
      await this.d.sessionRevocations?.publishFor(claims.jti, new Date(now), ttlMs);
    }
    const adminId = claims?.sub ?? row?.adminId;
    return { ...(adminId !== undefined ? { adminId } : {}), sessionIds: [...sessions] };
  }

  /** The claims of a valid session access token in `authorization`, else undefined. */
  private sessionClaims(authorization: string | undefined): AccessClaims | undefined {
    const token = /^Bearer ([^\s]+)$/i.exec(authorization ?? "")?.[1];
    if (token === undefined) return undefined;
    const v = this.d.signer.verify(token, { now: this.now() });
    return v.ok && v.claims.typ === "session" ? v.claims : undefined;
  }

  /**
   * Revokes the session's refresh family, then its session id until the last access token it
   * can have expires: one issued just before the revocation (later ones cannot be: the family's
   * refresh tokens are revoked), plus a margin for verifiers whose clocks run behind this one.
   * A token of it presented with the request (`accessExp`, its `exp` in seconds) counts too: it
   * may have been issued under a longer session lifetime than the one configured now, and a
   * shorter entry would let it be accepted again before it expires.
   */
  private async endSession(sessionId: string, accessExp?: number): Promise<void> {
    await this.d.refresh.revokeFamily(sessionId);
    if (!this.d.sessionRevocations) return;
    const now = this.now();
    const lastExpiry = Math.max(
      TokenSigner.expiry(now, this.d.sessionTtlMs).getTime(),
      (accessExp ?? 0) * 1000,
    );
    const ttlMs = lastExpiry - now + REVOCATION_CLOCK_MARGIN_MS;
    await this.d.sessionRevocations.publishSessionFor(sessionId, new Date(now), ttlMs);
  }

  /** An invitation (shown once) for one more admin, optionally bound to an email. */
  async invite(
    by: string,
    opts: { email?: string; ttlMs?: number },
  ): Promise<{ id: string; invitation: string; expiresAt: Date }> {
    const invitation = randomToken("ki");
    const id = `inv_${randomBytes(9).toString("base64url")}`;
    const expiresAt = new Date(this.now() + (opts.ttlMs ?? this.d.invitationTtlMs));
    await this.d.store.insertInvitation({
      id,
      tokenHash: tokenHash(invitation),
      email: opts.email?.toLowerCase() ?? null,
      createdBy: by,
      expiresAt,
    });
    return { id, invitation, expiresAt };
  }

  /** Refuses while any key has used up its failures; successes cost nothing. */
  private checkLimit(keys: string[]): void {
    const now = this.now();
    const wait = Math.max(...keys.map((k) => this.d.limiter.blockedFor(k, now)));
    if (wait > 0) throw rateLimited(wait);
  }

  private charge(keys: string[]): void {
    const now = this.now();
    for (const k of keys) this.d.limiter.take(k, now);
  }

  /**
   * A new pair for the session `familyId`: its first (sign-in), or the successor of refresh token
   * `rotating`, stored only if that one was unused, or used within the reuse grace period, and
   * its family not revoked (else undefined).
   */
  private async issue(adminId: string, familyId: string): Promise<SessionPair>;
  private async issue(
    adminId: string,
    familyId: string,
    rotating: string,
  ): Promise<SessionPair | undefined>;
  private async issue(
    adminId: string,
    familyId: string,
    rotating?: string,
  ): Promise<SessionPair | undefined> {
    const now = this.now();
    const refreshToken = randomToken("kr");
    const refreshExpiresAt = new Date(now + this.d.refreshTtlMs);
    const next = {
      id: `rt_${randomBytes(9).toString("base64url")}`,
      familyId,
      adminId,
      tokenHash: tokenHash(refreshToken),
      expiresAt: refreshExpiresAt,
    };
    let outcome: RotateOutcome = "rotated";
    if (rotating === undefined) await this.d.refresh.insert(next);
    else outcome = await this.d.refresh.rotate(rotating, next, this.d.refreshReuseGraceMs ?? 0);
    if (outcome === "refused") return undefined;
    // Signed once the refresh token is stored: a refused rotation signs nothing.
    const access = this.d.signer.session(adminId, familyId, now, this.d.sessionTtlMs);
    return {
      accessToken: access.token,
      accessExpiresAt: access.expiresAt!,
      refreshToken,
      refreshExpiresAt,
      adminId,
      sessionId: familyId,
      ...(outcome === "grace" ? { withinReuseGrace: true as const } : {}),
    };
  }

  /** The bootstrap file is spent once its token is: remove it if it still holds that token. */
  private removeBootstrapFile(hash: string): void {
    const file = this.d.bootstrapTokenFile;
    try {
      if (existsSync(file) && sameHash(tokenHash(readFileSync(file, "utf8").trim()), hash)) {
        rmSync(file);
      }
    } catch (err) {
      this.d.logger.warn(`could not remove the used bootstrap file ${file}: ${String(err)}`);
    }
  }
}
