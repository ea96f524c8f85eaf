import type { Pool } from "pg";
import { withTransaction } from "../pg/transaction";
import type { Queryable } from "../pg/transaction";

/** A refresh token as stored (by its SHA-256). */
export interface RefreshTokenRow {
  id: string;
  familyId: string;
  adminId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

/** What presenting a refresh token did: see {@link RefreshTokenStore.rotate}. */
export type RotateOutcome = "rotated" | "grace" | "refused";

/** A refresh token to store. */
export interface NewRefreshToken {
  id: string;
  familyId: string;
  adminId: string;
  tokenHash: string;
  expiresAt: Date;
}

/**
 * Refresh tokens, rotated within a family (`kon_admin.refresh_tokens`). A family is one sign-in
 * (its id is the session id of its access tokens). Rotating and revoking a family take the same
 * per-family lock, so a refresh racing a sign-out either ends before the revocation (which then
 * covers the new token too) or finds its token revoked: no token of a signed-out family survives.
 */
export class RefreshTokenStore {
  constructor(private readonly pool: Pool) {}

  /** Stores the first token of a new family (a sign-in). */
  async insert(t: NewRefreshToken): Promise<void> {
    await insertToken(this.pool, t);
  }

  /**
   * Marks `usedId` used and stores its successor `next` (same family), in one transaction under
   * the family's lock. `rotated`: it was unused. `grace`: it was used less than `reuseGraceMs`
   * ago (by the database's clock), is not expired and its family is live: a client racing
   * itself (two processes or tabs refreshing with the same token), so `next` is stored as one
   * more live token of the family. `refused` (nothing stored): used before that, expired while
   * used, or its family revoked.
   */
  async rotate(usedId: string, next: NewRefreshToken, reuseGraceMs = 0): Promise<RotateOutcome> {
    return withTransaction(this.pool, async (db) => {
      await lockFamily(db, next.familyId);
      const r = await db.query<{ fresh: boolean; grace: boolean }>(
        `SELECT used_at IS NULL AS fresh,
                used_at > now() - make_interval(secs => $3::double precision / 1000)
                  AND expires_at > now() AS grace
           FROM kon_admin.refresh_tokens
          WHERE id = $1 AND family_id = $2 AND revoked_at IS NULL`,
        [usedId, next.familyId, reuseGraceMs],
      );
      const row = r.rows[0];
      if (!row) return "refused";
      if (row.fresh) {
        await db.query(`UPDATE kon_admin.refresh_tokens SET used_at = now() WHERE id = $1`, [
          usedId,
        ]);
      } else if (!row.grace) {
        return "refused";
      }
      await insertToken(db, next);
      return row.fresh ? "rotated" : "grace";
    });
  }

  async findByHash(tokenHash: string): Promise<RefreshTokenRow | undefined> {
    const r = await this.pool.query<{
      id: string;
      family_id: string;
      admin_id: string;
      expires_at: Date;
      used_at: Date | null;
      revoked_at: Date | null;
    }>(
      `SELECT id, family_id, admin_id, expires_at, used_at, revoked_at
         FROM kon_admin.refresh_tokens WHERE token_hash = $1`,
      [tokenHash],
    );
    const row = r.rows[0];
    return row
      ? {
          id: row.id,
          familyId: row.family_id,
          adminId: row.admin_id,
          expiresAt: row.expires_at,
          usedAt: row.used_at,
          revokedAt: row.revoked_at,
        }
      : undefined;
  }

  /**
   * True when the session (refresh family) was ended: signed out, or a reuse revoked it. The
   * admin asks on each request with a session token, so it refuses a signed-out session at once,
   * as it does a deleted API token (other services follow the revocation bucket).
   */
  async familyEnded(familyId: string): Promise<boolean> {
    const res = await this.pool.query(
      `SELECT 1 FROM kon_admin.refresh_tokens
        WHERE family_id = $1 AND revoked_at IS NOT NULL LIMIT 1`,
      [familyId],
    );
    return (res.rowCount ?? 0) > 0;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await withTransaction(this.pool, async (db) => {
      await lockFamily(db, familyId);
      await db.query(
        `UPDATE kon_admin.refresh_tokens SET revoked_at = now()
          WHERE family_id = $1 AND revoked_at IS NULL`,
        [familyId],
      );
    });
  }
}

async function insertToken(db: Queryable, t: NewRefreshToken): Promise<void> {
  await db.query(
    `INSERT INTO kon_admin.refresh_tokens (id, family_id, admin_id, token_hash, expires_at)
     VALUES ($1, $2, $3, $4, $5)`,
    [t.id, t.familyId, t.adminId, t.tokenHash, t.expiresAt],
  );
}

/** Serialises rotation and revocation of one family until the transaction ends. */
async function lockFamily(db: Queryable, familyId: string): Promise<void> {
  await db.query(
    `SELECT pg_advisory_xact_lock(hashtext('kon_admin.refresh_tokens'), hashtext($1))`,
    [familyId],
  );
}
