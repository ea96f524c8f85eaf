import type { Pool } from "pg";
import type { Queryable } from "../pg/transaction";

/** An admin as stored. */
export interface AdminRow {
  id: string;
  email: string;
  passwordHash: string;
  createdAt: Date;
}

/** An invitation consumed by a sign-up. */
export interface InvitationRow {
  id: string;
  email: string | null;
  createdBy: string;
}

/**
 * Admins, the bootstrap token of the first sign-up, and invitations (`kon_admin`). Tokens are
 * passed in and compared as their SHA-256 only.
 */
export class AccountStore {
  constructor(private readonly pool: Pool) {}

  async countAdmins(db: Queryable = this.pool): Promise<number> {
    const r = await db.query<{ n: string }>(`SELECT count(*) AS n FROM kon_admin.admins`);
    return Number(r.rows[0]?.n ?? 0);
  }

  async findByEmail(email: string): Promise<AdminRow | undefined> {
    const r = await this.pool.query<AdminDbRow>(
      `SELECT id, email, password_hash, created_at FROM kon_admin.admins WHERE email = $1`,
      [email],
    );
    return r.rows[0] ? toAdmin(r.rows[0]) : undefined;
  }

  async findById(id: string): Promise<AdminRow | undefined> {
    const r = await this.pool.query<AdminDbRow>(
      `SELECT id, email, password_hash, created_at FROM kon_admin.admins WHERE id = $1`,
      [id],
    );
    return r.rows[0] ? toAdmin(r.rows[0]) : undefined;
  }

  async insertAdmin(
    db: Queryable,
    a: { id: string; email: string; passwordHash: string; invitedBy: string | null },
  ): Promise<void> {
    await db.query(
      `INSERT INTO kon_admin.admins (id, email, password_hash, invited_by) VALUES ($1, $2, $3, $4)`,
      [a.id, a.email, a.passwordHash, a.invitedBy],
    );
  }

  /** Serializes bootstrap decisions across instances for the rest of the transaction. */
  async lockBootstrap(db: Queryable): Promise<void> {
    await db.query(`SELECT pg_advisory_xact_lock(hashtext('kon_admin.bootstrap'))`);
  }

  async unusedBootstrapHash(db: Queryable = this.pool): Promise<string | undefined> {
    const r = await db.query<{ token_hash: string }>(
      `SELECT token_hash FROM kon_admin.bootstrap_tokens WHERE used_at IS NULL`,
    );
    return r.rows[0]?.token_hash;
  }

  /** Drops any unused bootstrap token and stores this one. */
  async replaceBootstrapToken(db: Queryable, tokenHash: string): Promise<void> {
    await db.query(`DELETE FROM kon_admin.bootstrap_tokens WHERE used_at IS NULL`);
    await db.query(`INSERT INTO kon_admin.bootstrap_tokens (token_hash) VALUES ($1)`, [tokenHash]);
  }

  /** Marks the bootstrap token used; false when no unused token has this hash. */
  async consumeBootstrapToken(db: Queryable, tokenHash: string): Promise<boolean> {
    const r = await db.query(
      `UPDATE kon_admin.bootstrap_tokens SET used_at = now()
        WHERE token_hash = $1 AND used_at IS NULL`,
      [tokenHash],
    );
    return (r.rowCount ?? 0) === 1;
  }

  async insertInvitation(i: {
    id: string;
    tokenHash: string;
    email: string | null;
    createdBy: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.pool.query(
      `INSERT INTO kon_admin.invitations (id, token_hash, email, created_by, expires_at)
       VALUES ($1, $2, $3, $4, $5)`,
      [i.id, i.tokenHash, i.email, i.createdBy, i.expiresAt],
    );
  }

  /** Marks an unused, unexpired invitation used and returns it; undefined otherwise. */
  async consumeInvitation(
    db: Queryable,
    tokenHash: string,
    now: Date,
  ): Promise<InvitationRow | undefined> {
    const r = await db.query<{ id: string; email: string | null; created_by: string }>(
      `UPDATE kon_admin.invitations SET used_at = $2
        WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2
        RETURNING id, email, created_by`,
      [tokenHash, now],
    );
    const row = r.rows[0];
    return row ? { id: row.id, email: row.email, createdBy: row.created_by } : undefined;
  }
}

interface AdminDbRow {
  id: string;
  email: string;
  password_hash: string;
  created_at: Date;
}

function toAdmin(r: AdminDbRow): AdminRow {
  return { id: r.id, email: r.email, passwordHash: r.password_hash, createdAt: r.created_at };
}
