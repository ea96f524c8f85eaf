import type { Incident } from "./incidents";
import { overlaps } from "./incidents";

/** Reliability figures of a set of nodes over a window. */
export interface Reliability {
  fromMs: number;
  toMs: number;
  nodes: number;
  /** Incidents (any cause) that started in the window. */
  incidents: number;
  /** Of those, expiries: the failures MTBF and MTTR are about. Clean leaves are not failures. */
  failures: number;
  cleanLeaves: number;
  incidentsPerNode: number;
  /** Mean time to repair: mean duration of failures that ended in the window; null if none. */
  mttrMs: number | null;
  /** Mean time between failures: total up time in the window / failures; null if none. */
  mtbfMs: number | null;
  upMs: number;
  /** Nodes by downtime in the window (expiries and leaves, clipped to the window). */
  topNodes: { group: string; node: string; downtimeMs: number; incidents: number }[];
}

/**
 * Reliability from each node's incidents and up time in the window (see `stateTotals`).
 * `incidents` may include incidents outside the window; they are clipped or ignored here.
 */
export function computeReliability(
  nodes: readonly { group: string; node: string; upMs: number }[],
  incidents: readonly Incident[],
  fromMs: number,
  toMs: number,
  nowMs: number,
  top = 10,
): Reliability {
  const started = incidents.filter((i) => i.startMs >= fromMs && i.startMs <= toMs);
  const failures = started.filter((i) => i.cause === "expiry");
  const repaired = incidents.filter(
    (i) => i.cause === "expiry" && i.endMs !== null && i.endMs >= fromMs && i.endMs <= toMs,
  );
  const upMs = nodes.reduce((s, n) => s + n.upMs, 0);
  const perNode = new Map<
    string,
    { group: string; node: string; downtimeMs: number; incidents: number }
  >();
  for (const n of nodes) {
    perNode.set(`${n.group}\u0000${n.node}`, {
      group: n.group,
      node: n.node,
      downtimeMs: 0,
      incidents: 0,
    });
  }
  for (const i of incidents) {
    if (!overlaps(i, fromMs, toMs)) continue;
    const key = `${i.group}\u0000${i.node}`;
    const entry = perNode.get(key) ?? { group: i.group, node: i.node, downtimeMs: 0, incidents: 0 };
    const end = Math.min(i.endMs ?? nowMs, toMs);
    entry.downtimeMs += Math.max(0, end - Math.max(i.startMs, fromMs));
    if (i.startMs >= fromMs) entry.incidents += 1;
    perNode.set(key, entry);
  }
  const ranked = [...perNode.values()]
    .filter((n) => n.downtimeMs > 0)
    .sort((a, b) => b.downtimeMs - a.downtimeMs || a.node.localeCompare(b.node))
    .slice(0, top);
  return {
    fromMs,
    toMs,
    nodes: nodes.length,
    incidents: started.length,
    failures: failures.length,
    cleanLeaves: started.length - failures.length,
    incidentsPerNode: nodes.length > 0 ? started.length / nodes.length : 0,
    mttrMs:
      repaired.length > 0
        ? repaired.reduce((s, i) => s + (i.endMs! - i.startMs), 0) / repaired.length
        : null,
    mtbfMs: failures.length > 0 ? upMs / failures.length : null,
    upMs,
    topNodes: ranked,
  };
}
