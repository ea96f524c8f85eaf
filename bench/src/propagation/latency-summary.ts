/** Percentiles of one measurement, in milliseconds. */
export interface LatencySummary {
  /** Samples that completed (failures excluded). */
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly min: number;
  readonly mean: number;
  /** Changes not applied by every watcher within the timeout. */
  readonly failures: number;
}

/**
 * Nearest-rank percentiles (the smallest sample with at least p% of the samples at or below it),
 * so every figure printed is a latency that was really observed. With fewer than 100 samples p99
 * is the maximum (ceil(0.99 × 50) = 50), which is why the output states each sample count.
 */
export function summarizeLatencies(samples: readonly number[], failures = 0): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { n, p50: NaN, p99: NaN, max: NaN, min: NaN, mean: NaN, failures };
  const rank = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)]!;
  return {
    n,
    p50: rank(50),
    p99: rank(99),
    max: sorted[n - 1]!,
    min: sorted[0]!,
    mean: sorted.reduce((s, x) => s + x, 0) / n,
    failures,
  };
}
