import type { NodeSlot } from "./node-slot";

interface Bucket {
  tokens: number;
  lastMs: number;
  /** Out of the table (pruned or forgotten): a slot holding it must not use it. */
  gone: boolean;
}

/** What a full table of buckets does with a key it has no room for. */
export type WhenFull = "allow" | "refuse";

/**
 * Token buckets per key, at most `maxKeys` of them. Time is passed in, so the heartbeat consumer
 * can limit by the server's timestamps (a replayed backlog is judged as it arrived, not as it is
 * read) and HTTP ingest by the wall clock.
 *
 * A bucket idle long enough to be full again is the same as no bucket, so it is forgotten: at
 * most once per refill time, and whenever a new key finds the table full. Only if every bucket is
 * still refilling does a new key find no room: then `whenFull` decides (`allow` untracked — for
 * the heartbeat stream, where refusing would fake a down — or `refuse`), and `onFull` is told.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private readonly refillMs: number;
  private prunedAtMs = 0;

  /**
   * @param ratePerSec sustained rate per key
   * @param burst bucket size: how many may arrive at once
   * @param maxKeys most keys tracked at once
   */
  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly maxKeys = 1_000_000,
    private readonly whenFull: WhenFull = "refuse",
    private readonly onFull: () => void = () => undefined,
  ) {
    this.refillMs = Math.ceil((burst / ratePerSec) * 1000);
  }

  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes a token for `key` at `nowMs`; false when the key is over its rate (or no room).
   * @param slot where `key`'s bucket was last found (see NodeSlot): spares the look-up
   */
  allow(key: string, nowMs: number, slot?: NodeSlot): boolean {
    if (nowMs - this.prunedAtMs >= this.refillMs) this.prune(nowMs);
    let bucket = slot !== undefined && slot.buckets === this ? (slot.bucket as Bucket) : undefined;
    if (bucket === undefined || bucket.gone) bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) {
        this.prune(nowMs);
        if (this.buckets.size >= this.maxKeys) {
          this.onFull();
          return this.whenFull === "allow";
        }
      }
      bucket = { tokens: this.burst, lastMs: nowMs, gone: false };
      this.buckets.set(key, bucket);
    } else if (nowMs > bucket.lastMs) {
      bucket.tokens = Math.min(
        this.burst,
        bucket.tokens + ((nowMs - bucket.lastMs) / 1000) * this.ratePerSec,
      );
      bucket.lastMs = nowMs;
    }
    if (slot !== undefined && slot.bucket !== bucket) {
      slot.buckets = this;
      slot.bucket = bucket;
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

  /** Forgets every bucket that has refilled by `nowMs`. */
  private prune(nowMs: number): void {
    this.prunedAtMs = nowMs;
    for (const [key, b] of this.buckets) {
      if (nowMs - b.lastMs >= this.refillMs) {
        b.gone = true;
        this.buckets.delete(key);
      }
    }
  }

  /** Drops the bucket of a key that is gone (a node that left), so the map does not grow forever. */
  forget(key: string): void {
    const b = this.buckets.get(key);
    if (b === undefined) return;
    b.gone = true;
    this.buckets.delete(key);
  }
}
