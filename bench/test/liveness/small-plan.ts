import type { CasePlan } from "../../src/liveness/run-case";

/** A small load for the integration tests: 30 nodes at 1 Hz, TTL 2 s, 3 stopped. */
export function smallPlan(): CasePlan {
  return {
    group: "bench",
    nodeIds: Array.from({ length: 30 }, (_, i) => `n${String(i).padStart(2, "0")}`),
    stopIndexes: [3, 14, 27],
    intervalMs: 1000,
    ttlMs: 2000,
    warmupMs: 3000,
    upTimeoutMs: 30_000,
    missAfterMs: 5000,
    tailMs: 3000,
    maxSimLagMs: 500,
    tickMs: 5,
    log: () => undefined,
  };
}
