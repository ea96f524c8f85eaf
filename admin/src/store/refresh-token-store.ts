import type { Pool } from "pg";

/** A refresh token as stored (by its SHA-256). */
export interface RefreshTokenRow {
  id: string;
  familyId: string;
  adminId: string;
  expiresAt: Date;
  usedAt: Date | null;
  revokedAt: Date | null;
}

/** Refresh tokens, rotated within a family (`kon_admin.refresh_tokens`). */
export class RefreshTokenStore {
  constructor(private readonly pool: Pool) {}

  async insert(t: {
    id: string;
    familyId: string;
    adminId: string;
    tokenHash: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.pool.query(
      `INSERT INTO kon_admin.refresh_tokens (id, family_id, admin_id, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [t.id, t.familyId, t.adminId, t.tokenHash, t.expiresAt],
    );
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

  /** Marks the token used if nobody did first; false when it was already used or revoked. */
  async markUsed(id: string): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE kon_admin.refresh_tokens SET used_at = now()
        WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL`,
      [id],
    );
    return (r.rowCount ?? 0) === 1;
  }

  async revokeFamily(familyId: string): Promise<void> {
    await this.pool.query(
      `UPDATE kon_admin.refresh_tokens SET revoked_at = now()
        WHERE family_id = $1 AND revoked_at IS NULL`,
      [familyId],
    );
  }
}
