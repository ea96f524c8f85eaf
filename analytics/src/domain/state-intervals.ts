import type { LivenessState, StateEvent } from "../model/event-kinds";

/** A span of time in one state, clipped to the window asked for. */
export interface StateInterval {
  state: LivenessState;
  fromMs: number;
  toMs: number;
  /** When the state began; earlier than `fromMs` when it began before the window. */
  sinceMs: number;
  /** Suspect flag of the event that began the state. */
  suspect: boolean;
}

/**
 * Time-weighted state of a node over [fromMs, toMs]. The state at `fromMs` is the one set by
 * `edge`, the node's last event before the window (so the window's start is interpolated, not
 * left empty); without one the intervals begin at the node's first event inside the window.
 * A repeated event (DOWN after DOWN) does not start a new interval. `events` must lie inside
 * the window; they are sorted here.
 */
export function stateIntervals(
  edge: StateEvent | undefined,
  events: readonly StateEvent[],
  fromMs: number,
  toMs: number,
): StateInterval[] {
  const out: StateInterval[] = [];
  let cur: StateInterval | undefined = edge
    ? { state: edge.state, fromMs, toMs, sinceMs: edge.atMs, suspect: !!edge.suspect }
    : undefined;
  const sorted = [...events].sort((a, b) => a.atMs - b.atMs);
  for (const ev of sorted) {
    if (ev.atMs < fromMs || ev.atMs > toMs) continue;
    if (cur && cur.state === ev.state) continue;
    if (cur) {
      cur.toMs = ev.atMs;
      if (cur.toMs > cur.fromMs) out.push(cur);
    }
    cur = { state: ev.state, fromMs: ev.atMs, toMs, sinceMs: ev.atMs, suspect: !!ev.suspect };
  }
  if (cur) {
    cur.toMs = toMs;
    if (cur.toMs > cur.fromMs || out.length === 0) out.push(cur);
  }
  return out;
}

/** Time spent in each state, from {@link stateIntervals}. */
export interface StateTotals {
  upMs: number;
  downMs: number;
  leftMs: number;
  /** Time covered by intervals: the window, or from the node's first event on. */
  observedMs: number;
}

export function stateTotals(intervals: readonly StateInterval[]): StateTotals {
  const t: StateTotals = { upMs: 0, downMs: 0, leftMs: 0, observedMs: 0 };
  for (const i of intervals) {
    const d = i.toMs - i.fromMs;
    t.observedMs += d;
    if (i.state === "up") t.upMs += d;
    else if (i.state === "down") t.downMs += d;
    else t.leftMs += d;
  }
  return t;
}
