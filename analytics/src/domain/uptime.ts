import type { StateEvent } from "../model/event-kinds";
import { stateIntervals, stateTotals } from "./state-intervals";

/** Uptime of one node over a window. */
export interface Uptime {
  fromMs: number;
  toMs: number;
  /** Where the measured span starts: the window's start, or the node's first event if later. */
  observedFromMs: number | null;
  observedMs: number;
  upMs: number;
  downMs: number;
  leftMs: number;
  /** upMs / observedMs × 100; null when nothing is known about the node in the window. */
  uptimePct: number | null;
}

/**
 * Time-weighted uptime: the share of the window the node spent `up`, never a count of beats.
 * Clean leaves count as not up (they are reported apart as `leftMs`). A node first seen inside
 * the window is measured from its first event, not penalized for the time before it existed.
 */
export function computeUptime(
  edge: StateEvent | undefined,
  events: readonly StateEvent[],
  fromMs: number,
  toMs: number,
): Uptime {
  const intervals = stateIntervals(edge, events, fromMs, toMs);
  const t = stateTotals(intervals);
  return {
    fromMs,
    toMs,
    observedFromMs: intervals[0]?.fromMs ?? null,
    observedMs: t.observedMs,
    upMs: t.upMs,
    downMs: t.downMs,
    leftMs: t.leftMs,
    uptimePct: t.observedMs > 0 ? (t.upMs / t.observedMs) * 100 : null,
  };
}
