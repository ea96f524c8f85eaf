import type { Pool } from "pg";

/** One admin action as recorded. */
export interface AuditEntry {
  /** Admin id, or for a sign-in the address typed (unknown admins included). */
  actor: string;
  /** `group.create`, `auth.login`, ... */
  action: string;
  /** What it was done to: a group, a key id, a token id. */
  target: string;
  /** Client address of the request. */
  source: string;
  /** `ok`, or `refused:<http status>` / `error:<http status>`. */
  result: string;
  /** Short non-secret detail (the error code). */
  detail?: string;
}

export interface AuditRecord extends AuditEntry {
  id: number;
  at: Date;
}

/** The audit table (`kon_admin.audit`): append-only, read newest first in keyset pages. */
export class AuditStore {
  constructor(private readonly pool: Pool) {}

  async record(e: AuditEntry): Promise<void> {
    await this.pool.query(
      `INSERT INTO kon_admin.audit (actor, action, target, source, result, detail)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [e.actor, e.action, e.target, e.source, e.result, e.detail ?? ""],
    );
  }

  /** Up to `limit` entries older than id `before` (newest first). */
  async page(opts: { limit: number; before?: number }): Promise<AuditRecord[]> {
    const r = await this.pool.query<{
      id: string;
      at: Date;
      actor: string;
      action: string;
      target: string;
      source: string;
      result: string;
      detail: string;
    }>(
      `SELECT id, at, actor, action, target, source, result, detail FROM kon_admin.audit
        WHERE ($1::bigint IS NULL OR id < $1) ORDER BY id DESC LIMIT $2`,
      [opts.before ?? null, opts.limit],
    );
    return r.rows.map((x) => ({ ...x, id: Number(x.id) }));
  }
}
