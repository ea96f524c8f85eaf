/** Statuses shown for a node: the monitor's last word, or `flapping` while recently flapping. */
export const DISPLAY_STATUSES = ["up", "down", "left", "flapping", "unknown"] as const;
export type DisplayStatus = (typeof DISPLAY_STATUSES)[number];

/** What a node reports running for one config key. */
export interface ConfigRevisionView {
  revision: number;
  sha256: string;
  appliedAtMs: number;
  rejectedRevision: number;
  pendingRevision: number;
}

/**
 * A node of the fleet with its full config record per key, as `/v1/nodes/:group/:node` (and
 * `/v1/nodes?detail=full`) shows it. Not the liveness monitor's in-memory view of a node.
 */
export interface FleetNode {
  group: string;
  node: string;
  status: DisplayStatus;
  /** The monitor's status under a flapping mark. */
  liveness: Exclude<DisplayStatus, "flapping">;
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
export interface NodeListItem extends Omit<FleetNode, "config"> {
  config: Record<string, number>;
}

/** The list item of a full record: what `detail=compact` shows for the same node. */
export function compactFleetNode(v: FleetNode): NodeListItem {
  const config: Record<string, number> = {};
  for (const [key, r] of Object.entries(v.config)) config[key] = r.revision;
  return { ...v, config };
}

/**
 * How much of each node's config a list shows: `compact` is `{"<key>": revision}`; `full` is the
 * whole record per key (revision, sha256, appliedAtMs, rejectedRevision, pendingRevision).
 */
export type NodeDetail = "compact" | "full";

/** A node's place in the list order (`group_name, node_id`, as the primary key sorts them). */
export interface NodeKey {
  group: string;
  node: string;
}

/**
 * One string per node, for a Map key: group and node joined by a NUL, which neither a group name
 * nor a node id may hold (so two different nodes never share one).
 */
export function nodeMapKey(group: string, node: string): string {
  return `${group}\u0000${node}`;
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
