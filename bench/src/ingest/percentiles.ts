/** p50 / p99 / max of a set of samples (ms), with how many there were. */
export interface Percentiles {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Nearest-rank percentiles: every figure is a sample that was really observed. With fewer than
 * 100 samples p99 is the maximum, which is why the report prints each sample count.
 */
export function percentiles(samples: readonly number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { n, p50: NaN, p99: NaN, max: NaN };
  const rank = (p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * n) - 1)]!;
  return { n, p50: rank(50), p99: rank(99), max: sorted[n - 1]! };
}
