import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  MAX_JOIN_KEY_LENGTH,
  joinKeyVerifySubject,
  parseJoinKeyCheckReply,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { TokenBuckets } from "../token-buckets";

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
  /** Checks the admin is asked for per source address, per second (cache hits are free). @default 2 */
  perSourceRate?: number;
  /** Checks a source may make at once before the rate applies. @default 10 */
  perSourceBurst?: number;
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
 * client costs one check per `cacheMs`; checks that reach the admin are rate-limited per source
 * address, so guessing keys from one address is slow. No answer from the admin is a 503, never a
 * verdict, and is not cached.
 */
export class JoinKeyChecker {
  private readonly cache = new Map<string, { until: number; group: string | undefined }>();
  private readonly inflight = new Map<string, Promise<JoinKeyAdmission>>();
  private readonly sources: TokenBuckets;
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
    this.sources = new TokenBuckets(opts.perSourceRate ?? 2, opts.perSourceBurst ?? 10, 100_000);
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
    if (!this.sources.allow(source, now)) {
      return { ok: false, status: 429, retryAfterMs: this.sources.retryAfterMs(source, now) };
    }
    const ask = this.ask(key, source, digest).finally(() => this.inflight.delete(digest));
    this.inflight.set(digest, ask);
    return ask;
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
