import type { StateInterval } from "./state-intervals";

/** Why a node stopped being up. */
export type IncidentCause = "expiry" | "clean leave";

/** A span during which a node was not up: from a DOWN or LEFT until the next UP. */
export interface Incident {
  group: string;
  node: string;
  startMs: number;
  /** null while the node has not come back. */
  endMs: number | null;
  /** To `endMs`, or to `nowMs` for an open incident. */
  durationMs: number;
  cause: IncidentCause;
  /** The DOWN that began it was part of a mass failure. */
  suspect: boolean;
  open: boolean;
}

/**
 * Incidents in a node's intervals. The intervals must reach the present (`nowMs`) so an incident
 * still going on is open rather than cut at the window's end. A DOWN followed by a LEFT (or the
 * reverse) without an UP between them is one incident, with the cause of its first event.
 */
export function incidentsOf(
  group: string,
  node: string,
  intervals: readonly StateInterval[],
  nowMs: number,
): Incident[] {
  const out: Incident[] = [];
  let cur: Incident | undefined;
  for (const i of intervals) {
    if (i.state === "up") {
      if (cur) {
        cur.endMs = i.fromMs;
        cur.durationMs = cur.endMs - cur.startMs;
        cur.open = false;
        out.push(cur);
        cur = undefined;
      }
      continue;
    }
    cur ??= {
      group,
      node,
      startMs: i.sinceMs,
      endMs: null,
      durationMs: 0,
      cause: i.state === "down" ? "expiry" : "clean leave",
      suspect: i.suspect,
      open: true,
    };
  }
  if (cur) {
    cur.durationMs = Math.max(0, nowMs - cur.startMs);
    out.push(cur);
  }
  return out;
}

/** True when the incident overlaps [fromMs, toMs]. */
export function overlaps(inc: Incident, fromMs: number, toMs: number): boolean {
  return inc.startMs <= toMs && (inc.endMs === null || inc.endMs >= fromMs);
}
