import type { Scope } from "@konorkestra/sdk/internal";
import type { Pool } from "pg";

/** An API token as listed: never its secret or hash. */
export interface ApiTokenInfo {
  id: string;
  name: string;
  adminId: string;
  scopes: Scope[];
  /** Groups the token is limited to; null: every group. */
  groups: string[] | null;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** Long-lived API tokens (`kon_admin.api_tokens`), by id (= the token's `jti`). */
export class ApiTokenStore {
  constructor(private readonly pool: Pool) {}

  async insert(t: {
    id: string;
    name: string;
    adminId: string;
    scopes: Scope[];
    groups: string[] | null;
    tokenHash: string;
    expiresAt: Date | null;
  }): Promise<void> {
    await this.pool.query(
      `INSERT INTO kon_admin.api_tokens (id, name, admin_id, scopes, groups, token_hash, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [t.id, t.name, t.adminId, t.scopes, t.groups, t.tokenHash, t.expiresAt],
    );
  }

  async list(): Promise<ApiTokenInfo[]> {
    const r = await this.pool.query<ApiTokenDbRow>(`${SELECT} ORDER BY created_at, id`);
    return r.rows.map(toInfo);
  }

  async find(id: string): Promise<ApiTokenInfo | undefined> {
    const r = await this.pool.query<ApiTokenDbRow>(`${SELECT} WHERE id = $1`, [id]);
    return r.rows[0] ? toInfo(r.rows[0]) : undefined;
  }

  /** Sets revoked_at (kept if already set); returns the token, undefined when unknown. */
  async revoke(id: string): Promise<ApiTokenInfo | undefined> {
    await this.pool.query(
      `UPDATE kon_admin.api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1`,
      [id],
    );
    return this.find(id);
  }

  /** Ids of every revoked token, to republish the revocation list at start. */
  async revokedIds(): Promise<string[]> {
    const r = await this.pool.query<{ id: string }>(
      `SELECT id FROM kon_admin.api_tokens WHERE revoked_at IS NOT NULL`,
    );
    return r.rows.map((x) => x.id);
  }
}

const SELECT = `SELECT id, name, admin_id, scopes, groups, created_at, expires_at, revoked_at
                  FROM kon_admin.api_tokens`;

interface ApiTokenDbRow {
  id: string;
  name: string;
  admin_id: string;
  scopes: Scope[];
  groups: string[] | null;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}

function toInfo(r: ApiTokenDbRow): ApiTokenInfo {
  return {
    id: r.id,
    name: r.name,
    adminId: r.admin_id,
    scopes: r.scopes,
    groups: r.groups,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
  };
}
