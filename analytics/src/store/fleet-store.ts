import type { ClientBase, Pool } from "pg";
import type {
  ConfigRevisionView,
  DisplayStatus,
  FleetNode,
  GroupSummary,
  NodeDetail,
  NodeKey,
} from "../model/fleet-node";
import { COPY_BINARY_HEADER, copyBinaryOut } from "../pg/binary-copy";
import { flappingSql, nodeJsonPartsSql, nodeWhereSql } from "./node-list-sql";

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

/** A page of the node list. */
export interface NodeListPage {
  /** The JSON array of nodes, between the frame's `open` and `close` when one was given. */
  json: Buffer;
  /** The last node of this page when more follow (the next page starts after it), else null. */
  next: NodeKey | null;
}

/** A node's formatted JSON parts (see nodeJsonPartsSql), valid while its version is this. */
interface Fragment {
  version: number;
  group: string;
  node: string;
  /** UTF-8 of `{"group":…,"node":…` */
  head: Buffer;
  /** UTF-8 of `,"liveness":…,"flappingAtMs":…` */
  mid: Buffer;
  /** UTF-8 of `,"instanceId":…}` */
  tail: Buffer;
}

/** Displayed status by its number in the per-request query. */
const STATUSES = ["unknown", "up", "down", "left", "flapping"] as const;
const STATUS_JSON = STATUSES.map((s) => Buffer.from(`,"status":"${s}"`));
/** Room for the status and beat fields of one node: `,"lastBeatAtMs":…,"lastSeq":…`. */
const DYNAMIC_BYTES = 160;

/** Bytes around a node list (e.g. `{"nodes":` … `,"next":…}`), given the page's next key. */
export type NodeListFrame = (next: NodeKey | null) => { open: Buffer; close: Buffer };

const EMPTY = Buffer.alloc(0);
const NO_FRAME: NodeListFrame = () => ({ open: EMPTY, close: EMPTY });

/** One row of the per-request query (numbers only: no strings to decode). */
interface BeatRow {
  id: number;
  version: number;
  status: number;
  /** last_beat_at in epoch ms, or null. */
  beatMs: number | null;
  lastSeq: number | null;
}

/** Reads `node_state`, the current status per node that the ingest keeps. */
export class FleetStore {
  /** Formatted JSON parts per node, per level of detail (see {@link nodesJson}). */
  private readonly memos: Record<NodeDetail, Map<number, Fragment>> = {
    compact: new Map(),
    full: new Map(),
  };

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
  ): Promise<NodeListPage> {
    const detail = q.detail ?? "compact";
    const cutMs = nowMs - this.flappingHoldMs;
    const where = nodeWhereSql({ group: q.group, status: q.status, after: q.after }, cutMs);
    const memo = this.memos[detail];
    const client = await this.pool.connect();
    let rows: BeatRow[];
    try {
      // In key order from the index: a sort would compare keys with the database collation.
      await client.query("BEGIN READ ONLY; SET LOCAL enable_sort = off");
      const copy = await copyBinaryOut(
        client,
        `SELECT id, version,
                (CASE WHEN ${flappingSql(cutMs)} THEN 4 WHEN status = 'up' THEN 1
                      WHEN status = 'down' THEN 2 WHEN status = 'left' THEN 3 ELSE 0 END)::int2,
                floor(date_part('epoch', last_beat_at) * 1000), last_seq
           FROM node_state WHERE ${where} ORDER BY group_name, node_id
           ${q.limit === undefined ? "" : `LIMIT ${q.limit + 1}`}`,
      );
      rows = beatRows(copy);
      const stale = rows.filter((r) => memo.get(r.id)?.version !== r.version);
      if (stale.length > 0) await this.fetchFragments(client, detail, stale);
      await client.query("COMMIT");
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    let more = false;
    if (q.limit !== undefined && rows.length > q.limit) {
      rows = rows.slice(0, q.limit);
      more = true;
    }
    // Written straight into one buffer: the remembered parts are bytes already, and the beat
    // fields are ASCII digits.
    const now = Math.trunc(nowMs);
    const picked: [BeatRow, Fragment][] = [];
    let size = 2;
    for (const r of rows) {
      const f = memo.get(r.id);
      if (!f) continue; // deleted between the two reads
      picked.push([r, f]);
      size += f.head.length + f.mid.length + f.tail.length + DYNAMIC_BYTES + 1;
    }
    const last = picked[picked.length - 1]?.[1];
    const next = more && last ? { group: last.group, node: last.node } : null;
    // The caller's frame goes into the same buffer: no second copy of a 4 MB answer.
    const { open, close } = frame(next);
    const out = Buffer.allocUnsafe(open.length + size + close.length);
    out.set(open, 0);
    let p = open.length;
    out[p++] = 0x5b; // [
    const first = p;
    for (const [r, f] of picked) {
      if (p > first) out[p++] = 0x2c; // ,
      out.set(f.head, p);
      p += f.head.length;
      const status = STATUS_JSON[r.status]!;
      out.set(status, p);
      p += status.length;
      out.set(f.mid, p);
      p += f.mid.length;
      const beat = r.beatMs;
      const age = beat === null ? "null" : Math.max(0, now - beat);
      p += out.write(
        `,"lastBeatAtMs":${beat ?? "null"},"lastBeatAgeMs":${age},"lastSeq":${r.lastSeq ?? "null"}`,
        p,
        "latin1",
      );
      out.set(f.tail, p);
      p += f.tail.length;
    }
    out[p++] = 0x5d; // ]
    out.set(close, p);
    p += close.length;
    // Nodes are seldom removed; when the memory holds far more than the fleet, start over.
    if (memo.size > 2 * rows.length + 100_000) memo.clear();
    return { json: out.subarray(0, p), next };
  }

  /** Formats and remembers the JSON parts of `rows` at their current version. */
  private async fetchFragments(
    client: ClientBase,
    detail: NodeDetail,
    rows: readonly BeatRow[],
  ): Promise<void> {
    const p = nodeJsonPartsSql(detail);
    const res = await client.query<[string, string, string, string, string, string, string]>({
      text: `SELECT id::text, version::text, group_name, node_id, ${p.head}, ${p.mid}, ${p.tail}
               FROM node_state WHERE id = ANY($1::int8[])`,
      values: [rows.map((r) => r.id)],
      rowMode: "array",
    });
    const memo = this.memos[detail];
    for (const [id, version, group, node, head, mid, tail] of res.rows) {
      memo.set(Number(id), {
        version: Number(version),
        group,
        node,
        head: Buffer.from(head),
        mid: Buffer.from(mid),
        tail: Buffer.from(tail),
      });
    }
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

/** The rows of the per-request query from its binary COPY output (int8, int8, int2, float8, int8). */
function beatRows(buf: Buffer): BeatRow[] {
  const rows: BeatRow[] = [];
  const int8 = (at: number): number => buf.readInt32BE(at) * 2 ** 32 + buf.readUInt32BE(at + 4);
  let p = COPY_BINARY_HEADER.length;
  while (p + 2 <= buf.length) {
    const fields = buf.readInt16BE(p);
    p += 2;
    if (fields === -1) break;
    if (fields !== 5) throw new Error(`node list: expected 5 fields, got ${fields}`);
    const id = int8(p + 4);
    const version = int8(p + 16);
    const status = buf.readInt16BE(p + 28);
    p += 30;
    let beatMs: number | null = null;
    if (buf.readInt32BE(p) === 8) {
      beatMs = buf.readDoubleBE(p + 4);
      p += 12;
    } else p += 4;
    let lastSeq: number | null = null;
    if (buf.readInt32BE(p) === 8) {
      lastSeq = int8(p + 4);
      p += 12;
    } else p += 4;
    rows.push({ id, version, status, beatMs, lastSeq });
  }
  return rows;
}
