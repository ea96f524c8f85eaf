import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import type { ApplyTracker } from "./apply-tracker";
import type { Fleet } from "./fleet";
import { runRounds } from "./run-rounds";
import type { RoundPlan, RoundsOutcome } from "./run-rounds";

/** One fleet variant's result. */
export interface FleetOutcome extends RoundsOutcome {
  readonly watchers: number;
  readonly connections: number;
  /** Time to connect and open every watcher (not part of any latency). */
  readonly setupMs: number;
  /** Values its watchers could not decode or validate. */
  readonly errors: number;
}

/**
 * Sets a fleet up, lets its start-up traffic settle, plays the changes, and always closes it, so
 * that the next variant runs on an idle machine.
 */
export async function measureFleet(
  start: () => Promise<Fleet>,
  tracker: ApplyTracker,
  plan: RoundPlan & { readonly settleMs: number },
  write: (version: number) => Promise<unknown>,
): Promise<FleetOutcome> {
  const t0 = performance.now();
  const fleet = await start();
  const setupMs = performance.now() - t0;
  try {
    await sleep(plan.settleMs);
    const out = await runRounds(tracker, plan, write);
    return {
      ...out,
      watchers: fleet.watchers,
      connections: fleet.connections,
      setupMs,
      errors: fleet.errors(),
    };
  } finally {
    await fleet.close();
  }
}
