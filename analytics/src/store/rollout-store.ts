import type { Pool } from "pg";
import type { NodeRollout, PublishedRevision, RolloutFacts } from "../domain/rollouts";

interface NodeRow {
  node_id: string;
  status: string;
  hb_revision: string | null;
  applied_revision: string | null;
  pending_revision: string | null;
  applied_at: Date | null;
  rejected_revision: string | null;
  rejected_reason: string | null;
}

const num = (v: string | null): number | null => (v === null ? null : Number(v));

/**
 * Reads what a rollout is made of from `config_events` and `node_state`: the key's published
 * revisions, each live node's newest `applied` and node-side `rejected` event for the key (plus
 * the revision its last heartbeat reported, for nodes that send no applied events), and when each
 * node first applied each of the revisions.
 */
export class RolloutStore {
  constructor(private readonly pool: Pool) {}

  async facts(group: string, key: string, limit: number): Promise<RolloutFacts> {
    const [published, nodes] = await Promise.all([
      this.published(group, key, limit),
      this.nodes(group, key),
    ]);
    const revisions = published.map((p) => p.revision);
    const firstApplies = await this.firstApplies(group, key, revisions);
    return { published, nodes, firstApplies };
  }

  /** The newest `limit` published revisions of the key, newest first. */
  private async published(group: string, key: string, limit: number): Promise<PublishedRevision[]> {
    const res = await this.pool.query<{ revision: string; time: Date; sha256: string }>(
      `SELECT DISTINCT ON (revision) revision, time, sha256 FROM config_events
        WHERE group_name = $1 AND key = $2 AND kind = 'published' AND revision IS NOT NULL
        ORDER BY revision DESC, time ASC
        LIMIT $3`,
      [group, key, limit],
    );
    return res.rows.map((r) => ({
      revision: Number(r.revision),
      publishedAtMs: r.time.getTime(),
      sha256: r.sha256,
    }));
  }

  /**
   * Every node of the group that is not down or gone (`node_state`), with its newest applied and
   * newest refused revision of the key. Nodes that never reported the key are listed too (their
   * revisions null): the domain decides whether they watch it.
   */
  private async nodes(group: string, key: string): Promise<NodeRollout[]> {
    const res = await this.pool.query<NodeRow>(
      `SELECT n.node_id, n.status,
              (n.config -> $2 ->> 'revision') AS hb_revision,
              a.revision AS applied_revision, a.pending_revision, a.time AS applied_at,
              r.revision AS rejected_revision, r.error_reason AS rejected_reason
         FROM node_state n
         LEFT JOIN LATERAL (
           SELECT revision, pending_revision, time FROM config_events
            WHERE group_name = $1 AND key = $2 AND node_id = n.node_id AND kind = 'applied'
              AND node_id <> ''
            ORDER BY time DESC, stream_seq DESC LIMIT 1) a ON true
         LEFT JOIN LATERAL (
           SELECT revision, error_reason FROM config_events
            WHERE group_name = $1 AND key = $2 AND node_id = n.node_id AND kind = 'rejected'
              AND node_id <> ''
            ORDER BY time DESC, stream_seq DESC LIMIT 1) r ON true
        WHERE n.group_name = $1 AND n.status NOT IN ('down', 'left')
        ORDER BY n.node_id`,
      [group, key],
    );
    return res.rows.map((r) => ({
      node: r.node_id,
      status: r.status,
      revision: num(r.applied_revision) ?? num(r.hb_revision),
      appliedAtMs: r.applied_at ? r.applied_at.getTime() : null,
      pendingRevision: num(r.pending_revision),
      rejectedRevision: num(r.rejected_revision),
      rejectedReason: r.rejected_reason,
    }));
  }

  /** Per revision: each node's first apply of it (whether or not the node is live now). */
  private async firstApplies(
    group: string,
    key: string,
    revisions: number[],
  ): Promise<Map<number, { node: string; atMs: number }[]>> {
    const out = new Map<number, { node: string; atMs: number }[]>();
    if (revisions.length === 0) return out;
    const res = await this.pool.query<{ revision: string; node_id: string; at: Date }>(
      `SELECT revision, node_id, min(time) AS at FROM config_events
        WHERE group_name = $1 AND key = $2 AND kind = 'applied' AND node_id <> ''
          AND revision = ANY($3::bigint[])
        GROUP BY revision, node_id`,
      [group, key, revisions],
    );
    for (const r of res.rows) {
      const rev = Number(r.revision);
      const list = out.get(rev) ?? [];
      list.push({ node: r.node_id, atMs: r.at.getTime() });
      out.set(rev, list);
    }
    return out;
  }
}
