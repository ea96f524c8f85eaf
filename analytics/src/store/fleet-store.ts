import type { ClientBase, Pool } from "pg";
import type {
  ConfigRevisionView,
  DisplayStatus,
  FleetNode,
  GroupSummary,
  NodeDetail,
  NodeKey,
} from "../model/fleet-node";
import { CopyBuffers, copyBinaryOutInto } from "../pg/binary-copy";
import { NodeArena, allocAnswer, newFragment } from "./node-list-arena";
import type { AnswerAlloc, Fragment, NodeListFrame } from "./node-list-arena";
import {
  PAGE_QUERY_MAX,
  beatColumns,
  beatColumnsOfRows,
  beatColumnsSql,
  beatPageSql,
} from "./node-list-columns";
import type { BeatColumns, BeatPageRow } from "./node-list-columns";
import { flappingSql, nodeJsonPartsSql, nodeWhereSql } from "./node-list-sql";

export type { AnswerAlloc, NodeListFrame } from "./node-list-arena";

interface NodeRow {
  group_name: string;
  node_id: string;
  status: FleetNode["liveness"];
  status_since: Date | null;
  suspect: boolean;
  flapping_at: Date | null;
  last_beat_at: Date | null;
  last_seq: string | null;
  instance_id: string | null;
  interval_ms: number | null;
  hostname: string | null;
  service_name: string | null;
  sdk_version: string | null;
  config: Record<string, ConfigRevisionView>;
}

const ms = (d: Date | null): number | null => (d ? d.getTime() : null);

/** What {@link FleetStore.nodesJson} lists: filters, detail, and a page of the key order. */
export interface NodeListQuery {
  group?: string;
  status?: DisplayStatus;
  /** @default "compact" */
  detail?: NodeDetail;
  /** Start after this node (the `next` of the previous page). */
  after?: NodeKey;
  /** At most this many nodes; all when undefined. */
  limit?: number;
}

/** Live nodes of a group (see {@link FleetStore.revisionCounts}). */
export interface LiveCount {
  group: string;
  n: number;
}

/** Live nodes of a group that run one revision of a key, and how many refused a newer one. */
export interface RevisionCount {
  group: string;
  key: string;
  revision: number;
  n: number;
  rejected: number;
}

/** A node of a page with what it runs (see {@link FleetStore.pageNodes}). */
export interface PageNode {
  group: string;
  node: string;
  liveness: FleetNode["liveness"];
  config: Record<string, ConfigRevisionView>;
}

/** A page of the node list. */
export interface NodeListPage {
  /** The JSON array of nodes, between the frame's `open` and `close` when one was given. */
  json: Buffer;
  /** The last node of this page when more follow (the next page starts after it), else null. */
  next: NodeKey | null;
}

const EMPTY = Buffer.alloc(0);
/** Every column as the text PostgreSQL sent (the page query converts them itself). */
const RAW_TEXT = {
  getTypeParser:
    () =>
    (v: string): string =>
      v,
};
const NO_FRAME: NodeListFrame = () => ({ open: EMPTY, close: EMPTY });

/** Reads `node_state`, the current status per node that the ingest keeps. */
export class FleetStore {
  /** Formatted JSON parts per node, per level of detail (see {@link nodesJson}). */
  private readonly memos: Record<NodeDetail, Map<number, Fragment>> = {
    compact: new Map(),
    full: new Map(),
  };
  /** Writes every answer; the same parts laid out in key order by whole-list reads. */
  private readonly arenas: Record<NodeDetail, NodeArena> = {
    compact: new NodeArena(),
    full: new NodeArena(),
  };
  private readonly copyBuffers = new CopyBuffers();

  constructor(
    private readonly pool: Pool,
    /** How long a FLAPPING event keeps its node shown as flapping. */
    private readonly flappingHoldMs: number,
  ) {}

  async nodes(
    filter: { group?: string; node?: string } = {},
    nowMs = Date.now(),
  ): Promise<FleetNode[]> {
    const res = await this.pool.query<NodeRow>(
      `SELECT group_name, node_id, status, status_since, suspect, flapping_at, last_beat_at,
              last_seq, instance_id, interval_ms, hostname, service_name, sdk_version, config
         FROM node_state
        WHERE ($1::text IS NULL OR group_name = $1) AND ($2::text IS NULL OR node_id = $2)
        ORDER BY group_name, node_id`,
      [filter.group ?? null, filter.node ?? null],
    );
    return res.rows.map((r) => this.view(r, nowMs));
  }

  /**
   * The JSON array of {@link nodes} (same fields, same order; config compact unless
   * `detail: "full"`). At 10,000 nodes the answer is megabytes, and having PostgreSQL format
   * every row on every request cost ~100 ms of its CPU. Instead each node's JSON is kept here,
   * formatted by PostgreSQL once per `version` of its row (the migration's trigger moves it when
   * anything shown changes, except the beat); a request reads only the beat columns and the
   * version of each row (in key order, from the primary key index), fetches the rows whose
   * version moved, and puts the parts together with the status and beat fields.
   *
   * A page is a key range, so a walk from `next` to `next` returns every node that exists
   * throughout it exactly once.
   */
  async nodesJson(
    q: NodeListQuery = {},
    nowMs = Date.now(),
    frame: NodeListFrame = NO_FRAME,
    alloc: AnswerAlloc = allocAnswer,
  ): Promise<NodeListPage> {
    const detail = q.detail ?? "compact";
    const cutMs = nowMs - this.flappingHoldMs;
    const where = nodeWhereSql({ group: q.group, status: q.status, after: q.after }, cutMs);
    const memo = this.memos[detail];
    const isPage = q.limit !== undefined && q.limit <= PAGE_QUERY_MAX;
    const cols = isPage
      ? await this.pageColumns(where, cutMs, q.limit!, detail)
      : await this.listColumns(where, cutMs, q.limit, detail);
    const more = q.limit !== undefined && cols.n > q.limit;
    const shown = more ? q.limit! : cols.n;
    const arena = this.arenas[detail];
    // Only a read of the whole fleet, in key order, says how to lay the arena out.
    if (where === "true" && q.limit === undefined) arena.refresh(cols, memo);
    // Every answer (page, filter, whole list) is written by the arena, from its runs where the
    // rows are neighbours in its layout and from the nodes' fragments where not.
    const page = arena.assemble(cols, shown, more, memo, nowMs, frame, alloc);
    // Nodes are seldom removed; when the memory holds far more than the fleet, start over.
    if (memo.size > 2 * cols.n + 100_000) memo.clear();
    return page;
  }

  /** A page's rows: one statement, one round trip (see beatPageSql). */
  private async pageColumns(
    where: string,
    cutMs: number,
    limit: number,
    detail: NodeDetail,
  ): Promise<BeatColumns> {
    const res = await this.pool.query<BeatPageRow>({
      text: beatPageSql(where, flappingSql(cutMs), limit),
      rowMode: "array",
      types: RAW_TEXT,
    });
    const cols = beatColumnsOfRows(res.rows);
    const stale = this.staleIds(cols, detail);
    if (stale.length > 0) await this.fetchFragments(this.pool, detail, stale);
    return cols;
  }

  /** The whole list (or a large page) by binary COPY, in key order from the index. */
  private async listColumns(
    where: string,
    cutMs: number,
    limit: number | undefined,
    detail: NodeDetail,
  ): Promise<BeatColumns> {
    const client = await this.pool.connect();
    let cols: BeatColumns;
    try {
      // In key order from the index: a sort would compare keys with the database collation.
      await client.query("BEGIN READ ONLY; SET LOCAL enable_sort = off");
      const copy = await copyBinaryOutInto(client, beatColumnsSql(where, limit), this.copyBuffers);
      try {
        cols = beatColumns(copy.bytes, cutMs);
      } finally {
        copy.release();
      }
      const stale = this.staleIds(cols, detail);
      if (stale.length > 0) await this.fetchFragments(client, detail, stale);
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      client.release();
      throw err;
    }
    await client.query("COMMIT").then(
      () => client.release(),
      (err: Error) => client.release(err),
    );
    return cols;
  }

  /** Ids of the rows whose remembered JSON is missing or of an older version. */
  private staleIds(cols: BeatColumns, detail: NodeDetail): number[] {
    const memo = this.memos[detail];
    const stale: number[] = [];
    for (let i = 0; i < cols.n; i++) {
      if (memo.get(cols.id[i]!)?.version !== cols.version[i]) stale.push(cols.id[i]!);
    }
    return stale;
  }

  /** Formats and remembers the JSON parts of the nodes `ids` at their current version. */
  private async fetchFragments(
    db: Pool | ClientBase,
    detail: NodeDetail,
    ids: readonly number[],
  ): Promise<void> {
    const p = nodeJsonPartsSql(detail);
    const res = await db.query<[string, string, string, string, string, string, string]>({
      text: `SELECT id::text, version::text, group_name, node_id, ${p.head}, ${p.mid}, ${p.tail}
               FROM node_state WHERE id = ANY($1::int8[])`,
      values: [ids],
      rowMode: "array",
    });
    const memo = this.memos[detail];
    for (const [id, version, group, node, head, mid, tail] of res.rows) {
      memo.set(Number(id), newFragment(Number(version), group, node, head, mid, tail));
    }
  }

  /**
   * How many live nodes (not down or left) run each revision of each key, per group, with how
   * many of them refused a newer one; and the live nodes per group. Counted by PostgreSQL: the
   * drift summary never brings the fleet's config records into this process.
   */
  async revisionCounts(group?: string): Promise<{ live: LiveCount[]; revisions: RevisionCount[] }> {
    const live = `status NOT IN ('down', 'left') AND ($1::text IS NULL OR group_name = $1)`;
    const [nodes, revisions] = await Promise.all([
      this.pool.query<{ group: string; n: number }>(
        `SELECT group_name AS group, count(*)::int AS n FROM node_state WHERE ${live}
          GROUP BY 1 ORDER BY 1`,
        [group ?? null],
      ),
      this.pool.query<{
        group: string;
        key: string;
        revision: string;
        n: number;
        rejected: number;
      }>(
        `SELECT group_name AS group, c.key, c.value->>'revision' AS revision, count(*)::int AS n,
                (count(*) FILTER (WHERE COALESCE(c.value->>'rejectedRevision', '0')
                                    NOT IN ('0', 'null')))::int AS rejected
           FROM node_state CROSS JOIN LATERAL jsonb_each(config) c
          WHERE ${live} AND c.value ? 'revision'
          GROUP BY 1, 2, 3`,
        [group ?? null],
      ),
    ]);
    return {
      live: nodes.rows,
      revisions: revisions.rows.map((r) => ({ ...r, revision: Number(r.revision) })),
    };
  }

  /**
   * The nodes of one /v1/nodes page (same filters, same key order) with their liveness and the
   * revision each runs per key (what the page's drift and uptime need; no formatting).
   */
  async pageNodes(q: NodeListQuery & { limit: number }, nowMs = Date.now()): Promise<PageNode[]> {
    const where = nodeWhereSql(
      { group: q.group, status: q.status, after: q.after },
      nowMs - this.flappingHoldMs,
    );
    const res = await this.pool.query<PageNode & { config: Record<string, ConfigRevisionView> }>(
      `SELECT group_name AS group, node_id AS node, status AS liveness, config FROM node_state
        WHERE ${where} ORDER BY group_name, node_id LIMIT ${q.limit}`,
    );
    return res.rows;
  }

  async summary(group?: string, nowMs = Date.now()): Promise<GroupSummary[]> {
    const res = await this.pool.query<{
      group_name: string;
      status: string;
      flapping: boolean;
      n: number;
    }>(
      `SELECT group_name, status, COALESCE(flapping_at > $2, false) AS flapping, count(*)::int AS n
         FROM node_state
        WHERE $1::text IS NULL OR group_name = $1
        GROUP BY 1, 2, 3 ORDER BY 1`,
      [group ?? null, new Date(nowMs - this.flappingHoldMs)],
    );
    const groups = new Map<string, GroupSummary>();
    for (const r of res.rows) {
      const g = groups.get(r.group_name) ?? {
        group: r.group_name,
        up: 0,
        down: 0,
        left: 0,
        flapping: 0,
        unknown: 0,
        total: 0,
      };
      const key = r.flapping
        ? "flapping"
        : (r.status as keyof Omit<GroupSummary, "group" | "total">);
      g[key] += r.n;
      g.total += r.n;
      groups.set(r.group_name, g);
    }
    return [...groups.values()];
  }

  private view(r: NodeRow, nowMs: number): FleetNode {
    const flapping =
      r.flapping_at !== null && r.flapping_at.getTime() > nowMs - this.flappingHoldMs;
    return {
      group: r.group_name,
      node: r.node_id,
      status: flapping ? "flapping" : r.status,
      liveness: r.status,
      sinceMs: ms(r.status_since),
      suspect: r.suspect,
      flappingAtMs: ms(r.flapping_at),
      lastBeatAtMs: ms(r.last_beat_at),
      lastBeatAgeMs: r.last_beat_at ? Math.max(0, nowMs - r.last_beat_at.getTime()) : null,
      lastSeq: r.last_seq === null ? null : Number(r.last_seq),
      instanceId: r.instance_id,
      intervalMs: r.interval_ms,
      hostname: r.hostname,
      serviceName: r.service_name,
      sdkVersion: r.sdk_version,
      config: r.config,
      configRejected: flagged(r.config, "rejectedRevision"),
      configPending: flagged(r.config, "pendingRevision"),
    };
  }
}

/** Keys whose `field` is a revision newer than the one the node runs (see node-list-sql). */
function flagged(
  config: Record<string, ConfigRevisionView>,
  field: "rejectedRevision" | "pendingRevision",
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, r] of Object.entries(config)) {
    const rev = r[field] as unknown;
    if (typeof rev === "number" && rev > r.revision) out[key] = rev;
  }
  return out;
}
