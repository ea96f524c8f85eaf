import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  MAX_JOIN_KEY_LENGTH,
  joinKeyVerifySubject,
  parseJoinKeyCheckReply,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";

/** What the ingest learns about a presented join key. */
export type JoinKeyAdmission =
  | { ok: true; group: string }
  | { ok: false; status: 401 }
  | { ok: false; status: 429 | 503; retryAfterMs: number };

export interface JoinKeyCheckerOptions {
  nc: NatsConnection;
  names: WireNames;
  /** How long a verdict (yes or no) is reused; also how long a revoked key may still pass. @default 5000 */
  cacheMs?: number;
  /**
   * Checks of keys not known to be good the admin is asked for per source address, per second
   * (cache hits are free, and a check that verifies gives its token back). @default 2
   */
  perSourceRate?: number;
  /** Such checks a source may make at once before the rate applies. @default 10 */
  perSourceBurst?: number;
  /** How long a key that verified stays known to be good (its renewals skip the per-source limit). @default 3600000 */
  knownGoodMs?: number;
  /** How long to wait for the admin's answer. @default 2000 */
  timeoutMs?: number;
  /** Most cached verdicts. @default 10000 */
  maxCached?: number;
  now?: () => number;
}

/**
 * Checks join keys for HTTP ingest by asking the admin service over NATS
 * (`<prefix>.admin.joinkey.verify`), since only the admin can read the keys' hashes. Verdicts
 * are cached briefly by the key's sha256 (never the key itself), yes and no alike, so a cron
 * client costs one check per `cacheMs`. Checks that reach the admin are rate-limited per source
 * address, so guessing keys from one address is slow, but only failed checks count: a check takes
 * a token of its address before it is asked (so a flood in flight costs the admin no more than the
 * bucket holds) and gets it back when the key verifies. A key that verified within `knownGoodMs`
 * is re-checked when its verdict expires without taking a token at all, so a flood of wrong keys
 * from an address (a NAT, a proxy, one host) cannot lock out the right keys of nodes behind it;
 * those re-checks cost the admin at most one per good key per `cacheMs`, whatever the flood does.
 * No answer from the admin is a 503, never a verdict, and is not cached.
 */
export class JoinKeyChecker {
  private readonly cache = new Map<string, { until: number; group: string | undefined }>();
  private readonly inflight = new Map<string, Promise<JoinKeyAdmission>>();
  /** sha256 of keys that verified → until when they count as known good (insertion ordered). */
  private readonly knownGood = new Map<string, number>();
  private readonly sources: FailureBudget;
  private readonly knownGoodMs: number;
  private readonly cacheMs: number;
  private readonly timeoutMs: number;
  private readonly maxCached: number;
  private readonly now: () => number;
  private readonly subject: string;

  constructor(private readonly opts: JoinKeyCheckerOptions) {
    this.cacheMs = opts.cacheMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 2000;
    this.maxCached = opts.maxCached ?? 10_000;
    this.now = opts.now ?? Date.now;
    this.knownGoodMs = opts.knownGoodMs ?? 3_600_000;
    this.sources = new FailureBudget(opts.perSourceRate ?? 2, opts.perSourceBurst ?? 10, 100_000);
    this.subject = joinKeyVerifySubject(opts.names);
  }

  async check(key: string, source: string): Promise<JoinKeyAdmission> {
    if (key.length === 0 || key.length > MAX_JOIN_KEY_LENGTH) return { ok: false, status: 401 };
    const digest = createHash("sha256").update(key).digest("hex");
    const now = this.now();
    const hit = this.cache.get(digest);
    if (hit && hit.until > now) {
      return hit.group ? { ok: true, group: hit.group } : { ok: false, status: 401 };
    }
    if (hit) this.cache.delete(digest);
    const pending = this.inflight.get(digest);
    if (pending) return pending;
    const good = (this.knownGood.get(digest) ?? 0) > now;
    if (!good && !this.sources.take(source, now)) {
      return { ok: false, status: 429, retryAfterMs: this.sources.retryAfterMs(source, now) };
    }
    const ask = this.ask(key, source, digest)
      .then((verdict) => {
        if (verdict.ok) {
          this.rememberGood(digest);
          // Only failures count against the address: a key that verified gives its token back.
          if (!good) this.sources.giveBack(source);
        } else if (good && verdict.status === 401) {
          // Revoked since: no longer known good (its next checks take tokens again).
          this.knownGood.delete(digest);
        }
        return verdict;
      })
      .finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, ask);
    return ask;
  }

  private rememberGood(digest: string): void {
    if (this.knownGoodMs <= 0) return;
    this.knownGood.delete(digest); // re-inserted last: the oldest stays first
    if (this.knownGood.size >= this.maxCached) {
      const oldest = this.knownGood.keys().next().value;
      if (oldest !== undefined) this.knownGood.delete(oldest);
    }
    this.knownGood.set(digest, this.now() + this.knownGoodMs);
  }

  private async ask(key: string, source: string, digest: string): Promise<JoinKeyAdmission> {
    let data: Uint8Array;
    try {
      const m = await this.opts.nc.request(this.subject, JSON.stringify({ key, host: source }), {
        timeout: this.timeoutMs,
      });
      data = m.data;
    } catch {
      return { ok: false, status: 503, retryAfterMs: 1000 };
    }
    const reply = parseJoinKeyCheckReply(data);
    if (!reply || (!reply.ok && reply.unavailable)) {
      return { ok: false, status: 503, retryAfterMs: 1000 };
    }
    if (!reply.ok && reply.retryAfterMs !== undefined) {
      return { ok: false, status: 429, retryAfterMs: reply.retryAfterMs };
    }
    this.remember(digest, reply.ok ? reply.group : undefined);
    return reply.ok ? { ok: true, group: reply.group } : { ok: false, status: 401 };
  }

  private remember(digest: string, group: string | undefined): void {
    if (this.cacheMs <= 0) return;
    if (this.cache.size >= this.maxCached) {
      const now = this.now();
      for (const [d, e] of this.cache) if (e.until <= now) this.cache.delete(d);
      // Still full: drop the oldest entry (Map keeps insertion order).
      if (this.cache.size >= this.maxCached) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
    }
    this.cache.set(digest, { until: this.now() + this.cacheMs, group });
  }
}

/**
 * Token buckets per source address whose tokens can be given back: a check takes one before it
 * is asked and returns it when the key verified, so only failures drain an address. At most
 * `maxKeys` addresses are tracked (full buckets are forgotten first); past that, a new address
 * is refused, as the token buckets of the ingest refuse.
 */
class FailureBudget {
  private readonly buckets = new Map<string, { tokens: number; lastMs: number }>();
  private readonly refillMs: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    private readonly maxKeys: number,
  ) {
    this.refillMs = Math.ceil((burst / ratePerSec) * 1000);
  }

  take(source: string, nowMs: number): boolean {
    let b = this.buckets.get(source);
    if (b === undefined) {
      if (this.buckets.size >= this.maxKeys) this.prune(nowMs);
      if (this.buckets.size >= this.maxKeys) return false;
      b = { tokens: this.burst, lastMs: nowMs };
      this.buckets.set(source, b);
    } else this.refill(b, nowMs);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  giveBack(source: string): void {
    const b = this.buckets.get(source);
    if (b !== undefined) b.tokens = Math.min(this.burst, b.tokens + 1);
  }

  retryAfterMs(source: string, nowMs: number): number {
    const b = this.buckets.get(source);
    if (b === undefined) return 1000; // refused for room: retry in a second
    this.refill(b, nowMs);
    return b.tokens >= 1 ? 0 : Math.ceil(((1 - b.tokens) / this.ratePerSec) * 1000);
  }

  private refill(b: { tokens: number; lastMs: number }, nowMs: number): void {
    if (nowMs <= b.lastMs) return;
    b.tokens = Math.min(this.burst, b.tokens + ((nowMs - b.lastMs) / 1000) * this.ratePerSec);
    b.lastMs = nowMs;
  }

  private prune(nowMs: number): void {
    for (const [source, b] of this.buckets) {
      if (nowMs - b.lastMs >= this.refillMs) this.buckets.delete(source);
    }
  }
}
