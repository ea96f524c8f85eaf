import type { Pool } from "pg";
import type { LivenessState, NodeEventKind, StateEvent } from "../model/event-kinds";
import type { NodeKey } from "../model/fleet-node";
import { nodeMapKey } from "../model/fleet-node";

/** One node's state events for a window: the last one before it, those inside, flapping marks. */
export interface NodeHistory {
  group: string;
  node: string;
  edge?: StateEvent;
  events: StateEvent[];
  flappingMs: number[];
}

/**
 * When a state began. An expiry (DOWN) began at the node's last heartbeat, its last proof of life,
 * not when the monitor noticed one TTL later: counting from detection would shorten every outage
 * by up to the TTL and overstate uptime. Other states begin when they are reported. Windows are
 * still selected by `time` (detection), which the index covers.
 */
const EFFECTIVE_TIME = `CASE WHEN kind = 'down' THEN COALESCE(last_seen_at, time) ELSE time END AS time`;

/** Reads `node_events`, the history behind uptime, timelines, incidents and reliability. */
export class EventStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Histories of the matching nodes over [fromMs, toMs]. The edge (last UP/DOWN/LEFT before the
   * window) is one index look-up per node, so a long window costs only the events inside it.
   */
  async histories(
    filter: { group?: string; node?: string },
    fromMs: number,
    toMs: number,
  ): Promise<NodeHistory[]> {
    const params = [filter.group ?? null, filter.node ?? null, new Date(fromMs), new Date(toMs)];
    const edges = await this.pool.query<Row>(
      `SELECT ns.group_name, ns.node_id, e.time, e.kind, e.suspect
         FROM node_state ns
         CROSS JOIN LATERAL (
           SELECT ${EFFECTIVE_TIME}, kind, suspect FROM node_events ne
            WHERE ne.group_name = ns.group_name AND ne.node_id = ns.node_id
              AND ne.kind <> 'flapping' AND ne.time < $3
            ORDER BY time DESC, stream_seq DESC LIMIT 1) e
        WHERE ($1::text IS NULL OR ns.group_name = $1) AND ($2::text IS NULL OR ns.node_id = $2)`,
      params.slice(0, 3),
    );
    const inside = await this.pool.query<Row>(
      `SELECT group_name, node_id, ${EFFECTIVE_TIME}, kind, suspect FROM node_events
        WHERE ($1::text IS NULL OR group_name = $1) AND ($2::text IS NULL OR node_id = $2)
          AND time >= $3 AND time <= $4
        ORDER BY group_name, node_id, time, stream_seq`,
      params,
    );
    return historiesOf(edges.rows, inside.rows, fromMs);
  }

  /**
   * Histories of the nodes `keys` (a dashboard page's) over [fromMs, toMs], in two statements
   * whatever their number: what one request per node cost a page of a hundred.
   */
  async historiesOfNodes(
    keys: readonly NodeKey[],
    fromMs: number,
    toMs: number,
  ): Promise<NodeHistory[]> {
    if (keys.length === 0) return [];
    const groups = keys.map((k) => k.group);
    const nodes = keys.map((k) => k.node);
    const picked = `(SELECT * FROM unnest($1::text[], $2::text[]) AS k(group_name, node_id))`;
    const edges = await this.pool.query<Row>(
      `SELECT k.group_name, k.node_id, e.time, e.kind, e.suspect
         FROM ${picked} k
         CROSS JOIN LATERAL (
           SELECT ${EFFECTIVE_TIME}, kind, suspect FROM node_events ne
            WHERE ne.group_name = k.group_name AND ne.node_id = k.node_id
              AND ne.kind <> 'flapping' AND ne.time < $3
            ORDER BY time DESC, stream_seq DESC LIMIT 1) e`,
      [groups, nodes, new Date(fromMs)],
    );
    const inside = await this.pool.query<Row>(
      `SELECT ne.group_name, ne.node_id, ${EFFECTIVE_TIME}, kind, suspect
         FROM ${picked} k
         JOIN node_events ne ON ne.group_name = k.group_name AND ne.node_id = k.node_id
        WHERE ne.time >= $3 AND ne.time <= $4
        ORDER BY ne.group_name, ne.node_id, ne.time, ne.stream_seq`,
      [groups, nodes, new Date(fromMs), new Date(toMs)],
    );
    return historiesOf(edges.rows, inside.rows, fromMs);
  }
}

/** Groups edge and window rows by node (see {@link EventStore.histories}). */
function historiesOf(edgeRows: Row[], insideRows: Row[], fromMs: number): NodeHistory[] {
  const byNode = new Map<string, NodeHistory>();
  const get = (r: Row): NodeHistory => {
    const key = nodeMapKey(r.group_name, r.node_id);
    let h = byNode.get(key);
    if (!h)
      byNode.set(key, (h = { group: r.group_name, node: r.node_id, events: [], flappingMs: [] }));
    return h;
  };
  for (const r of edgeRows) get(r).edge = toEvent(r);
  for (const r of insideRows) {
    if (r.kind === "flapping") get(r).flappingMs.push(r.time.getTime());
    // Detected inside the window but silent since just before it: down from the window's start.
    else get(r).events.push({ ...toEvent(r), atMs: Math.max(r.time.getTime(), fromMs) });
  }
  return [...byNode.values()].sort(
    (a, b) => a.group.localeCompare(b.group) || a.node.localeCompare(b.node),
  );
}

interface Row {
  group_name: string;
  node_id: string;
  time: Date;
  kind: NodeEventKind;
  suspect: boolean;
}

function toEvent(r: Row): StateEvent {
  return { atMs: r.time.getTime(), state: r.kind as LivenessState, suspect: r.suspect };
}
