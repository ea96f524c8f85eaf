/** Limits of a token bucket. */
export interface RateLimit {
  requestsPerSecond: number;
  burst: number;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
}

/**
 * A token bucket per client. `configure` swaps the limits live: existing buckets keep their
 * tokens, capped at the new burst, so a lower limit applies at once and a higher one is not a
 * free refill.
 */
export class RateLimiter {
  private limit: RateLimit;
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    limit: RateLimit,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.limit = { ...limit };
  }

  get current(): RateLimit {
    return { ...this.limit };
  }

  configure(limit: RateLimit): void {
    this.limit = { ...limit };
    for (const b of this.buckets.values()) b.tokens = Math.min(b.tokens, limit.burst);
  }

  /** Takes a token for `client`; returns ms to wait when there is none (0 = allowed). */
  take(client: string): number {
    const t = this.now();
    let b = this.buckets.get(client);
    if (!b) {
      b = { tokens: this.limit.burst, updatedAt: t };
      this.buckets.set(client, b);
    }
    b.tokens = Math.min(
      this.limit.burst,
      b.tokens + ((t - b.updatedAt) / 1000) * this.limit.requestsPerSecond,
    );
    b.updatedAt = t;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.limit.requestsPerSecond) * 1000);
  }
}
