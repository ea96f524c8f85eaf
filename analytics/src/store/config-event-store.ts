import type { Pool } from "pg";
import type { ConfigChange } from "../model/config-change";
import type { ConfigEventKind } from "../model/event-kinds";

/** Filter of {@link ConfigEventStore.history}. */
export interface ConfigHistoryFilter {
  group?: string;
  key?: string;
  node?: string;
  /** Only these kinds; all when empty or absent. */
  kinds?: readonly ConfigEventKind[];
  /** Inclusive; no lower bound when absent. */
  fromMs?: number;
  /** Inclusive. */
  toMs: number;
  limit: number;
}

/** The newest published and the newest rejected event of each key of a group. */
export interface KeyLastChanges {
  published?: ConfigChange;
  rejected?: ConfigChange;
}

const SELECT = `
  SELECT time, event_id, group_name, key, kind, revision, sha256, change_set_id, source_path,
         node_id, prepare_id, error_file, error_line, error_column, error_reason, error_code,
         error_value_path, git_commit, git_author, published_by, received_at
    FROM config_events`;

/** Reads `config_events`, the config audit trail. */
export class ConfigEventStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Matching events, newest first, at most `limit` (one more is read to tell whether the answer
   * was cut). Ties in time are ordered by stream sequence, newest first.
   */
  async history(f: ConfigHistoryFilter): Promise<{ changes: ConfigChange[]; truncated: boolean }> {
    const res = await this.pool.query<Row>(
      `${SELECT}
        WHERE ($1::text IS NULL OR group_name = $1) AND ($2::text IS NULL OR key = $2)
          AND ($3::text IS NULL OR node_id = $3)
          AND (cardinality($4::text[]) = 0 OR kind = ANY($4))
          AND ($5::timestamptz IS NULL OR time >= $5) AND time <= $6
        ORDER BY time DESC, stream_seq DESC
        LIMIT $7`,
      [
        f.group ?? null,
        f.key ?? null,
        f.node ?? null,
        f.kinds ?? [],
        f.fromMs === undefined ? null : new Date(f.fromMs),
        new Date(f.toMs),
        f.limit + 1,
      ],
    );
    const changes = res.rows.slice(0, f.limit).map(toChange);
    return { changes, truncated: res.rows.length > f.limit };
  }

  /** Per key of the group: the newest `published` and the newest `rejected` event, if any. */
  async lastChanges(group: string): Promise<Map<string, KeyLastChanges>> {
    const res = await this.pool.query<Row>(
      `SELECT DISTINCT ON (key, kind) * FROM (${SELECT}
          WHERE group_name = $1 AND kind IN ('published', 'rejected')) e
        ORDER BY key, kind, time DESC`,
      [group],
    );
    const out = new Map<string, KeyLastChanges>();
    for (const r of res.rows) {
      const c = toChange(r);
      const k = out.get(c.key) ?? {};
      if (c.kind === "published") k.published = c;
      else k.rejected = c;
      out.set(c.key, k);
    }
    return out;
  }
}

interface Row {
  time: Date;
  event_id: string;
  group_name: string;
  key: string;
  kind: ConfigEventKind;
  revision: string | null;
  sha256: string;
  change_set_id: string;
  source_path: string;
  node_id: string;
  prepare_id: string;
  error_file: string | null;
  error_line: number | null;
  error_column: number | null;
  error_reason: string | null;
  error_code: string | null;
  error_value_path: string | null;
  git_commit: string | null;
  git_author: string | null;
  published_by: string | null;
  received_at: Date;
}

const orNull = (s: string | null): string | null => (s ? s : null);

function toChange(r: Row): ConfigChange {
  return {
    atMs: r.time.getTime(),
    eventId: r.event_id,
    group: r.group_name,
    key: r.key,
    kind: r.kind,
    revision: r.revision === null ? null : Number(r.revision),
    sha256: orNull(r.sha256),
    changeSetId: orNull(r.change_set_id),
    sourcePath: orNull(r.source_path),
    nodeId: orNull(r.node_id),
    prepareId: orNull(r.prepare_id),
    author: orNull(r.git_author),
    gitCommit: orNull(r.git_commit),
    publishedBy: orNull(r.published_by),
    error:
      r.error_reason === null
        ? null
        : {
            file: orNull(r.error_file),
            line: r.error_line,
            column: r.error_column,
            reason: r.error_reason,
            code: orNull(r.error_code),
            valuePath: orNull(r.error_value_path),
          },
    receivedAtMs: r.received_at.getTime(),
  };
}
