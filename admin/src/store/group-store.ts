import type { Pool } from "pg";
import type { Queryable } from "../pg/transaction";

/** A join key as shown to admins: never its secret or hash. */
export interface JoinKeyInfo {
  keyId: string;
  createdAt: Date;
  createdBy: string;
  /** End of the grace period of a replaced key; null while it is the current key. */
  expiresAt: Date | null;
  revokedAt: Date | null;
}

/** A join key as the verifier needs it. */
export interface JoinKeyRecord {
  keyId: string;
  group: string;
  secretHash: string;
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface GroupInfo {
  name: string;
  createdAt: Date;
  createdBy: string;
}

/** Groups and their join keys (`kon_admin.groups`, `kon_admin.join_keys`). */
export class GroupStore {
  constructor(private readonly pool: Pool) {}

  /** Inserts a group; throws PostgreSQL's unique violation when it exists. */
  async insertGroup(db: Queryable, name: string, createdBy: string): Promise<void> {
    await db.query(`INSERT INTO kon_admin.groups (name, created_by) VALUES ($1, $2)`, [
      name,
      createdBy,
    ]);
  }

  async list(): Promise<GroupInfo[]> {
    const r = await this.pool.query<{ name: string; created_at: Date; created_by: string }>(
      `SELECT name, created_at, created_by FROM kon_admin.groups ORDER BY name`,
    );
    return r.rows.map((x) => ({ name: x.name, createdAt: x.created_at, createdBy: x.created_by }));
  }

  async get(name: string): Promise<GroupInfo | undefined> {
    const r = await this.pool.query<{ name: string; created_at: Date; created_by: string }>(
      `SELECT name, created_at, created_by FROM kon_admin.groups WHERE name = $1`,
      [name],
    );
    const x = r.rows[0];
    return x ? { name: x.name, createdAt: x.created_at, createdBy: x.created_by } : undefined;
  }

  /** Deletes a group and its keys; returns the key ids it had, undefined when it did not exist. */
  async deleteGroup(db: Queryable, name: string): Promise<string[] | undefined> {
    const keys = await db.query<{ key_id: string }>(
      `SELECT key_id FROM kon_admin.join_keys WHERE group_name = $1`,
      [name],
    );
    const r = await db.query(`DELETE FROM kon_admin.groups WHERE name = $1`, [name]);
    return (r.rowCount ?? 0) === 1 ? keys.rows.map((k) => k.key_id) : undefined;
  }

  async keysOf(group: string): Promise<JoinKeyInfo[]> {
    const r = await this.pool.query<{
      key_id: string;
      created_at: Date;
      created_by: string;
      expires_at: Date | null;
      revoked_at: Date | null;
    }>(
      `SELECT key_id, created_at, created_by, expires_at, revoked_at FROM kon_admin.join_keys
        WHERE group_name = $1 ORDER BY created_at DESC, key_id`,
      [group],
    );
    return r.rows.map((x) => ({
      keyId: x.key_id,
      createdAt: x.created_at,
      createdBy: x.created_by,
      expiresAt: x.expires_at,
      revokedAt: x.revoked_at,
    }));
  }

  /** Inserts a key; throws PostgreSQL's unique violation on a key-id collision. */
  async insertKey(
    db: Queryable,
    k: { keyId: string; group: string; secretHash: string; createdBy: string },
  ): Promise<void> {
    await db.query(
      `INSERT INTO kon_admin.join_keys (key_id, group_name, secret_hash, created_by)
       VALUES ($1, $2, $3, $4)`,
      [k.keyId, k.group, k.secretHash, k.createdBy],
    );
  }

  /** Gives the group's current keys an end (`expiresAt`); returns their ids. */
  async expireCurrentKeys(db: Queryable, group: string, expiresAt: Date): Promise<string[]> {
    const r = await db.query<{ key_id: string }>(
      `UPDATE kon_admin.join_keys SET expires_at = $2
        WHERE group_name = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
        RETURNING key_id`,
      [group, expiresAt],
    );
    return r.rows.map((x) => x.key_id);
  }

  async findKey(keyId: string): Promise<JoinKeyRecord | undefined> {
    const r = await this.pool.query<{
      key_id: string;
      group_name: string;
      secret_hash: string;
      expires_at: Date | null;
      revoked_at: Date | null;
    }>(
      `SELECT key_id, group_name, secret_hash, expires_at, revoked_at FROM kon_admin.join_keys
        WHERE key_id = $1`,
      [keyId],
    );
    const x = r.rows[0];
    return x
      ? {
          keyId: x.key_id,
          group: x.group_name,
          secretHash: x.secret_hash,
          expiresAt: x.expires_at,
          revokedAt: x.revoked_at,
        }
      : undefined;
  }

  /** Revokes a key of a group; false when the group has no such key. */
  async revokeKey(group: string, keyId: string): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE kon_admin.join_keys SET revoked_at = coalesce(revoked_at, now())
        WHERE group_name = $1 AND key_id = $2`,
      [group, keyId],
    );
    return (r.rowCount ?? 0) === 1;
  }

  /** Keys that will expire (end of a grace period) and are not revoked: to schedule at start. */
  async pendingExpiries(now: Date): Promise<{ keyId: string; group: string; expiresAt: Date }[]> {
    const r = await this.pool.query<{ key_id: string; group_name: string; expires_at: Date }>(
      `SELECT key_id, group_name, expires_at FROM kon_admin.join_keys
        WHERE revoked_at IS NULL AND expires_at > $1`,
      [now],
    );
    return r.rows.map((x) => ({ keyId: x.key_id, group: x.group_name, expiresAt: x.expires_at }));
  }
}
