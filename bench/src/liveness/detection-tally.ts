import { summarizeLatencies } from "../propagation/latency-summary";
import type { LatencySummary } from "../propagation/latency-summary";

/** What one row of the benchmark observed about the downs it caused and those it did not. */
export interface DetectionSummary {
  readonly stopped: number;
  /** Stopped nodes whose deadline the server could tell (the others cannot be timed). */
  readonly withDeadline: number;
  /** Detection delays (arrival − deadline) of the downs seen within the miss window, ms. */
  readonly delay: LatencySummary;
  /** Stopped nodes with no down within the miss window after their deadline. */
  readonly missed: number;
  /** Of the missed: a down came, but after the miss window. */
  readonly late: number;
  /** Downs that arrived before the deadline (negative delay). */
  readonly early: number;
  /** Downs of nodes that were beating (never stopped, or before their stop). */
  readonly falsePositives: number;
  /** A few of them, `node@ms after start of the tally`, for the report. */
  readonly falsePositiveSamples: readonly string[];
  /** Further downs of a node already reported down. */
  readonly duplicates: number;
  /** Downs naming another last heartbeat than the one the server holds (when both are known). */
  readonly refMismatches: number;
}

interface Stopped {
  readonly atMs: number;
  deadlineMs?: number;
  ref?: string;
  downAtMs?: number;
}

/**
 * Pairs the nodes a row stopped (with their server-side deadlines) with the downs it saw. Pure:
 * every time is given by the caller, on one clock (this host's, which the servers share).
 */
export class DetectionTally {
  private readonly stopped = new Map<string, Stopped>();
  private readonly falsePositives: { node: string; atMs: number }[] = [];
  private duplicates = 0;
  private mismatches = 0;

  constructor(private readonly startMs: number = 0) {}

  /** The node stopped beating at `atMs`. */
  stop(node: string, atMs: number): void {
    this.stopped.set(node, { atMs });
  }

  /**
   * The node's deadline (server time of its last beat + TTL); `ref` names that last beat (e.g.
   * its KON_HB sequence) when a down says which one it saw.
   */
  setDeadline(node: string, deadlineMs: number, ref?: string): void {
    const s = this.stopped.get(node);
    if (!s) return;
    s.deadlineMs = deadlineMs;
    s.ref = ref;
  }

  /** A down (or expiry) of `node` reached the bench at `atMs`. */
  down(node: string, atMs: number, ref?: string): void {
    const s = this.stopped.get(node);
    if (!s || atMs < s.atMs) {
      this.falsePositives.push({ node, atMs });
      return;
    }
    if (s.downAtMs !== undefined) {
      this.duplicates++;
      return;
    }
    s.downAtMs = atMs;
    if (ref !== undefined && s.ref !== undefined && ref !== s.ref) this.mismatches++;
  }

  /** Deadlines known so far (to know how long to wait). */
  deadlines(): number[] {
    const out: number[] = [];
    for (const s of this.stopped.values()) if (s.deadlineMs !== undefined) out.push(s.deadlineMs);
    return out;
  }

  /** Stopped nodes with no down yet. */
  pending(): number {
    let n = 0;
    for (const s of this.stopped.values()) if (s.downAtMs === undefined) n++;
    return n;
  }

  summary(missAfterMs: number): DetectionSummary {
    const delays: number[] = [];
    let missed = 0;
    let late = 0;
    let early = 0;
    let withDeadline = 0;
    for (const s of this.stopped.values()) {
      if (s.deadlineMs === undefined) {
        if (s.downAtMs === undefined) missed++;
        continue;
      }
      withDeadline++;
      const delay = s.downAtMs === undefined ? undefined : s.downAtMs - s.deadlineMs;
      if (delay === undefined || delay > missAfterMs) {
        missed++;
        if (delay !== undefined) late++;
        continue;
      }
      if (delay < 0) early++;
      delays.push(delay);
    }
    return {
      stopped: this.stopped.size,
      withDeadline,
      delay: summarizeLatencies(delays),
      missed,
      late,
      early,
      falsePositives: this.falsePositives.length,
      falsePositiveSamples: this.falsePositives
        .slice(0, 5)
        .map((f) => `${f.node}@${Math.round(f.atMs - this.startMs)}ms`),
      duplicates: this.duplicates,
      refMismatches: this.mismatches,
    };
  }
}
