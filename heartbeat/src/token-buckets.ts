interface Bucket {
  tokens: number;
  lastMs: number;
}

/**
 * Token buckets per key. Time is passed in, so the heartbeat consumer can limit by the server's
 * timestamps (a replayed backlog is judged as it arrived, not as it is read) and HTTP ingest by
 * the wall clock.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();

  /**
   * @param ratePerSec sustained rate per key
   * @param burst bucket size: how many may arrive at once
   */
  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
  ) {}

  /** Takes a token for `key` at `nowMs`; false when the key is over its rate. */
  allow(key: string, nowMs: number): boolean {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, lastMs: nowMs };
      this.buckets.set(key, bucket);
    } else if (nowMs > bucket.lastMs) {
      bucket.tokens = Math.min(
        this.burst,
        bucket.tokens + ((nowMs - bucket.lastMs) / 1000) * this.ratePerSec,
      );
      bucket.lastMs = nowMs;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Milliseconds until `key` has a token again (0 when it has one now). */
  retryAfterMs(key: string, nowMs: number): number {
    const bucket = this.buckets.get(key);
    if (!bucket) return 0;
    const tokens = Math.min(
      this.burst,
      bucket.tokens + (Math.max(0, nowMs - bucket.lastMs) / 1000) * this.ratePerSec,
    );
    return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / this.ratePerSec) * 1000);
  }

  /** Drops the bucket of a key that is gone (a node that left), so the map does not grow forever. */
  forget(key: string): void {
    this.buckets.delete(key);
  }
}
