interface Bucket {
  tokens: number;
  lastMs: number;
}

/**
 * Token buckets per key (a source address, an e-mail, a key id): `perMinute` attempts a minute
 * sustained, as many at once. Full buckets are dropped when the map grows, so a stream of
 * distinct keys cannot grow it without bound.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly ratePerMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 100_000,
  ) {
    this.ratePerMs = perMinute / 60_000;
  }

  /** Milliseconds until `key` may try again; 0 when it may now (nothing is taken). */
  blockedFor(key: string, nowMs: number): number {
    const tokens = this.tokens(key, nowMs);
    return tokens >= 1 ? 0 : Math.ceil((1 - tokens) / this.ratePerMs);
  }

  /** Takes one attempt for `key`. */
  take(key: string, nowMs: number): void {
    const tokens = this.tokens(key, nowMs);
    if (this.buckets.size >= this.maxKeys) this.sweep(nowMs);
    this.buckets.set(key, { tokens: tokens - 1, lastMs: nowMs });
  }

  /** Takes one attempt unless blocked; returns the wait when blocked, else 0. */
  attempt(key: string, nowMs: number): number {
    const wait = this.blockedFor(key, nowMs);
    if (wait === 0) this.take(key, nowMs);
    return wait;
  }

  private tokens(key: string, nowMs: number): number {
    const b = this.buckets.get(key);
    if (!b) return this.perMinute;
    return Math.min(this.perMinute, b.tokens + Math.max(0, nowMs - b.lastMs) * this.ratePerMs);
  }

  private sweep(nowMs: number): void {
    for (const [k] of this.buckets) {
      if (this.tokens(k, nowMs) >= this.perMinute) this.buckets.delete(k);
    }
  }
}
