import type { ClientBase, Pool, PoolClient } from "pg";
import { copyJsonRows, joinJsonArray } from "./copy-json-array";
import { nodeJsonSql, nodeWhereSql } from "./node-list-sql";
import type { NodeDetail, NodeKey, NodeRowFilter } from "./node-list-sql";

export type { NodeDetail, NodeKey } from "./node-list-sql";

/** Status shown for a node: the monitor's last word, or `flapping` while recently flapping. */
export type DisplayStatus = "up" | "down" | "left" | "flapping" | "unknown";

/** A node with its full config record per key, as `/v1/nodes/:group/:node` shows it. */
export interface NodeView {
  group: string;
  node: string;
  status: DisplayStatus;
  /** The monitor's status under a flapping mark. */
  liveness: "up" | "down" | "left" | "unknown";
  sinceMs: number | null;
  suspect: boolean;
  flappingAtMs: number | null;
  lastBeatAtMs: number | null;
  lastBeatAgeMs: number | null;
  lastSeq: number | null;
  instanceId: string | null;
  intervalMs: number | null;
  hostname: string | null;
  serviceName: string | null;
  sdkVersion: string | null;
  config: Record<string, ConfigRevisionView>;
  /** Keys whose newest revision the node refused (its schema failed it): key → that revision. */
  configRejected: Record<string, number>;
  /** Keys with a revision delivered but not yet current: key → that revision. */
  configPending: Record<string, number>;
}

/** A node as the `/v1/nodes` list shows it: config is `{"<key>": revision}`. */
export interface NodeListItem extends Omit<NodeView, "config"> {
  config: Record<string, number>;
}

/** The list item of a full view: what `detail=compact` shows for the same row. */
export function compactNodeView(v: NodeView): NodeListItem {
  const config: Record<string, number> = {};
  for (const [key, r] of Object.entries(v.config)) config[key] = r.revision;
  return { ...v, config };
}

/** What a node reports running for one config key. */
export interface ConfigRevisionView {
  revision: number;
  sha256: string;
  appliedAtMs: number;
  rejectedRevision: number;
  pendingRevision: number;
}

/** Per-group counts for the fleet summary. */
export interface GroupSummary {
  group: string;
  up: number;
  down: number;
  left: number;
  flapping: number;
  unknown: number;
  total: number;
}

interface NodeRow {
  group_name: string;
  node_id: string;
  status: NodeView["liveness"];
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

/** A page of the node list. */
export interface NodeListPage {
  /** The JSON array of nodes, byte for byte as PostgreSQL formatted them. */
  json: Buffer;
  /** The last node of this page when more follow (the next page starts after it), else null. */
  next: NodeKey | null;
}

/**
 * A list of at least this many rows is read in two halves on two connections at once:
 * PostgreSQL formats each half on its own core, which halves the wait on a 2-core machine.
 */
const SPLIT_ROWS = 2000;

/** Reads `node_state`, the current status per node that the ingest keeps. */
export class FleetStore {
  constructor(
    private readonly pool: Pool,
    /** How long a FLAPPING event keeps its node shown as flapping. */
    private readonly flappingHoldMs: number,
  ) {}

  async nodes(
    filter: { group?: string; node?: string } = {},
    nowMs = Date.now(),
  ): Promise<NodeView[]> {
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
   * `detail: "full"`), formatted by PostgreSQL and streamed out with COPY: at 10,000 nodes the
   * answer is megabytes, and parsing rows into Dates and objects to serialize them again took
   * most of the time of `/v1/nodes` and held up every other request meanwhile.
   *
   * Rows are read in primary-key order from the index (sorting them instead took a third of the
   * time: the formatted rows spilled to disk), and a large list in two key ranges at once.
   * A page is a key range too, so a walk from `next` to `next` returns every node that exists
   * throughout it exactly once.
   */
  async nodesJson(q: NodeListQuery = {}, nowMs = Date.now()): Promise<NodeListPage> {
    const cutMs = nowMs - this.flappingHoldMs;
    const base: NodeRowFilter = { group: q.group, status: q.status, after: q.after };
    const select = (f: NodeRowFilter): string =>
      `SELECT ${nodeJsonSql(q.detail ?? "compact", nowMs, cutMs)} FROM node_state
        WHERE ${nodeWhereSql(f, cutMs)} ORDER BY group_name, node_id
        ${q.limit === undefined ? "" : `LIMIT ${q.limit + 1}`}`;
    const first = await this.pool.connect();
    let rows: Buffer[];
    try {
      await indexOrder(first);
      const mid = await this.splitKey(first, nodeWhereSql(base, cutMs), q.limit);
      const second = mid && this.spareClient();
      if (!mid) {
        rows = await copyJsonRows(first, select(base));
      } else if (!second) {
        const a = await copyJsonRows(first, select({ ...base, through: mid }));
        rows = a.concat(await copyJsonRows(first, select({ ...base, after: mid })));
      } else {
        const [a, b] = await Promise.all([
          copyJsonRows(first, select({ ...base, through: mid })),
          inIndexOrder(second, (c) => copyJsonRows(c, select({ ...base, after: mid }))),
        ]);
        rows = a.concat(b);
      }
      await first.query("COMMIT");
    } catch (err) {
      await first.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      first.release();
    }
    if (q.limit === undefined || rows.length <= q.limit) {
      return { json: joinJsonArray(rows), next: null };
    }
    rows = rows.slice(0, q.limit);
    const last = JSON.parse(rows[rows.length - 1]!.toString("utf8")) as NodeKey;
    return { json: joinJsonArray(rows), next: { group: last.group, node: last.node } };
  }

  /** The key that ends the first half of a list worth splitting, else undefined. */
  private async splitKey(
    client: ClientBase,
    where: string,
    limit: number | undefined,
  ): Promise<NodeKey | undefined> {
    const cap = limit === undefined ? "" : `LIMIT ${limit}`;
    const res = await client.query<{ n: number; g: string | null; k: string | null }>(
      `WITH c AS MATERIALIZED (SELECT count(*)::int AS n FROM (SELECT 1 FROM node_state
                                WHERE ${where} ${cap}) s),
            m AS (SELECT group_name, node_id FROM node_state WHERE ${where}
                   ORDER BY group_name, node_id OFFSET (SELECT greatest(n / 2 - 1, 0) FROM c) LIMIT 1)
       SELECT c.n, m.group_name AS g, m.node_id AS k FROM c LEFT JOIN m ON c.n >= ${SPLIT_ROWS}`,
    );
    const r = res.rows[0];
    return r?.g != null && r.k != null ? { group: r.g, node: r.k } : undefined;
  }

  /**
   * A second connection when the pool has one free right now, else undefined: waiting for one
   * while holding another could deadlock when every connection is held by such a wait.
   */
  private spareClient(): Promise<PoolClient> | undefined {
    const p = this.pool;
    const free = p.idleCount > 0 || p.totalCount < (p.options.max ?? 10);
    // connect() takes the idle client, or counts the new one, before it returns.
    return free && p.waitingCount === 0 ? p.connect() : undefined;
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

  private view(r: NodeRow, nowMs: number): NodeView {
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

/**
 * Starts a transaction in which the planner reads `node_state` in key order from the primary key
 * index: its other choice, a sort, sorts the formatted rows (spilling megabytes to disk) and
 * compares keys with the database collation, which took a third of the time at 10,000 rows.
 */
async function indexOrder(client: ClientBase): Promise<void> {
  await client.query("BEGIN READ ONLY; SET LOCAL enable_sort = off");
}

/** Runs `work` on `client` (in index order, see {@link indexOrder}) and releases it. */
async function inIndexOrder<T>(
  client: Promise<PoolClient>,
  work: (c: PoolClient) => Promise<T>,
): Promise<T> {
  const c = await client;
  try {
    await indexOrder(c);
    const out = await work(c);
    await c.query("COMMIT");
    return out;
  } catch (err) {
    await c.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}
