import { setTimeout as sleep } from "node:timers/promises";
import type { ApplyTracker, RoundResult } from "./apply-tracker";
import { summarizeLatencies } from "./latency-summary";
import type { LatencySummary } from "./latency-summary";

/** How a series of changes is played. */
export interface RoundPlan {
  /** Unmeasured changes first (connections, JIT and caches warm up). */
  readonly warmup: number;
  readonly changes: number;
  readonly pauseMs: number;
  readonly timeoutMs: number;
  /** Version of the first change; each change writes the next one. */
  readonly firstVersion: number;
}

/** The measured part of a series. */
export interface RoundsOutcome {
  /** Time until the last watcher applied each change. */
  readonly last: LatencySummary;
  /** Time until the first watcher applied each change (the pure transport part). */
  readonly first: LatencySummary;
  /** Changes that timed out, with how many watchers had applied them. */
  readonly failed: readonly RoundResult[];
  /** Version the next series should start from. */
  readonly nextVersion: number;
}

/**
 * Writes `warmup + changes` changes one after another: each waits until every watcher applied it
 * (or the timeout), then `pauseMs`, so one change's work never overlaps the next one's.
 */
export async function runRounds(
  tracker: ApplyTracker,
  plan: RoundPlan,
  write: (version: number) => Promise<unknown>,
): Promise<RoundsOutcome> {
  const last: number[] = [];
  const first: number[] = [];
  const failed: RoundResult[] = [];
  let version = plan.firstVersion;
  for (let i = 0; i < plan.warmup + plan.changes; i++, version++) {
    const v = version;
    const r = await tracker.round(v, () => write(v), plan.timeoutMs);
    if (i >= plan.warmup) {
      if (r.ok) last.push(r.lastMs);
      else failed.push(r);
      if (!Number.isNaN(r.firstMs)) first.push(r.firstMs);
    }
    if (plan.pauseMs > 0) await sleep(plan.pauseMs);
  }
  return {
    last: summarizeLatencies(last, failed.length),
    first: summarizeLatencies(first),
    failed,
    nextVersion: version,
  };
}
