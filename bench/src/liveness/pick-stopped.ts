/**
 * `count` distinct indexes below `n`, chosen at random but reproducibly from `seed` (mulberry32
 * and a partial Fisher-Yates shuffle): every row of a run stops the same nodes, and a rerun with
 * the same seed stops them again.
 */
export function pickStopped(n: number, count: number, seed: number): number[] {
  if (!Number.isInteger(count) || count < 0 || count > n) {
    throw new RangeError(`cannot pick ${count} of ${n} nodes`);
  }
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pool = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random() * (n - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, count).sort((a, b) => a - b);
}
