import type { Logger } from "@konorkestra/sdk";
import { joinKeyDigest, parseJoinKey } from "../secrets/join-key";
import type { PasswordHasher } from "../secrets/password-hasher";
import type { GroupStore } from "../store/group-store";
import { RateLimiter } from "./rate-limiter";

/** Where a join attempt comes from (the NATS client's host, the HTTP client's address). */
export interface JoinKeySource {
  host: string;
}

/**
 * The answer of {@link JoinKeys.verifyJoinKey}. A refusal says only `refused` (wrong key,
 * unknown key id, revoked, past its grace period, malformed: all the same) or `rate_limited`.
 */
export type JoinKeyVerdict =
  | { ok: true; group: string; keyId: string }
  | { ok: false; reason: "refused" }
  | { ok: false; reason: "rate_limited"; retryAfterMs: number };

/** A key stopped admitting anyone: live connections that used it should be closed. */
export interface JoinKeyRevokedEvent {
  group: string;
  keyId: string;
  reason: "revoked" | "expired" | "group_deleted";
}

export interface GroupDeletedEvent {
  group: string;
  /** The keys the group had (each also reported as a JoinKeyRevokedEvent). */
  keyIds: string[];
}

export interface JoinKeysOptions {
  store: GroupStore;
  hasher: PasswordHasher;
  logger: Logger;
  /** How long a successful check is remembered. */
  cacheMs: number;
  /** argon2 checks per source, and failures per key id, allowed per minute. */
  ratePerMin: number;
  now?: () => number;
  /** Sees every verdict (for metrics). */
  onVerdict?: (v: JoinKeyVerdict) => void;
}

interface CacheEntry {
  group: string;
  keyId: string;
  until: number;
}

const MAX_CACHE = 100_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Join-key checks for the NATS auth callout and HTTP ingest. A reconnect storm of one group costs
 * one argon2 verification: successful checks are cached (`cacheMs`, never past the key's end) and
 * concurrent checks of the same key share one verification. Revocation, the end of a rotation's
 * grace period and group deletion clear the cache at once and are announced to listeners.
 *
 * Rate limits: checks that need argon2 per source, and failures per key id. A cached (known good)
 * key passes even while its key id is limited, so guessing against a key id cannot lock the
 * group's nodes out.
 */
export class JoinKeys {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly inflight = new Map<string, Promise<JoinKeyVerdict>>();
  private readonly bySource: RateLimiter;
  private readonly byKeyId: RateLimiter;
  private readonly warnedAt = new Map<string, number>();
  private readonly revokedListeners = new Set<(e: JoinKeyRevokedEvent) => unknown>();
  private readonly deletedListeners = new Set<(e: GroupDeletedEvent) => unknown>();
  private readonly expiries = new Map<string, { group: string; at: number }>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly o: JoinKeysOptions) {
    this.bySource = new RateLimiter(o.ratePerMin);
    this.byKeyId = new RateLimiter(o.ratePerMin);
    this.now = o.now ?? Date.now;
  }

  /** Schedules the end of every grace period still running (call once at start). */
  async start(): Promise<void> {
    for (const k of await this.o.store.pendingExpiries(new Date(this.now()))) {
      this.scheduleExpiry(k.group, k.keyId, k.expiresAt.getTime());
    }
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * The group a join key admits to, or a refusal. Never throws for bad input; a database failure
   * rejects (the caller answers "unavailable", not "refused").
   */
  async verifyJoinKey(key: string, source: JoinKeySource): Promise<JoinKeyVerdict> {
    const verdict = await this.decide(key, source);
    this.o.onVerdict?.(verdict);
    return verdict;
  }

  private async decide(key: string, source: JoinKeySource): Promise<JoinKeyVerdict> {
    const now = this.now();
    const src = `src:${source.host}`;
    const parts = parseJoinKey(key);
    if (!parts) {
      const wait = this.bySource.attempt(src, now);
      return wait > 0 ? limited(wait) : { ok: false, reason: "refused" };
    }
    const digest = joinKeyDigest(parts);
    const hit = this.cache.get(digest);
    if (hit && hit.until > now) return { ok: true, group: hit.group, keyId: hit.keyId };
    if (hit) this.cache.delete(digest);
    const pending = this.inflight.get(digest);
    if (pending) return pending;
    // Only the source is limited. Key ids are not secret (a connection list shows them), so a
    // limit per key id would let anyone lock a group's nodes out with wrong guesses; the 140-bit
    // secret is what stops guessing. Failures per key id are counted and reported instead.
    const wait = this.bySource.blockedFor(src, now);
    if (wait > 0) return limited(wait);
    this.bySource.take(src, now);
    const check = this.check(parts.keyId, parts.secret, digest).finally(() =>
      this.inflight.delete(digest),
    );
    this.inflight.set(digest, check);
    return check;
  }

  /** {@link verifyJoinKey} under the name the auth-callout responder calls. */
  verify(key: string, source: JoinKeySource): Promise<JoinKeyVerdict> {
    return this.verifyJoinKey(key, source);
  }

  /** Calls `listener` when a key stops admitting (revoked, grace over, group deleted). Returns an unsubscribe. */
  onJoinKeyRevoked(listener: (e: JoinKeyRevokedEvent) => unknown): () => void {
    this.revokedListeners.add(listener);
    return () => this.revokedListeners.delete(listener);
  }

  /** Calls `listener` when a group is deleted. Returns an unsubscribe. */
  onGroupDeleted(listener: (e: GroupDeletedEvent) => unknown): () => void {
    this.deletedListeners.add(listener);
    return () => this.deletedListeners.delete(listener);
  }

  /** A key was revoked (or its group deleted): forget it and tell the listeners. */
  keyRevoked(group: string, keyId: string, reason: JoinKeyRevokedEvent["reason"]): void {
    this.expiries.delete(keyId);
    this.forget(keyId);
    this.emit(this.revokedListeners, { group, keyId, reason });
  }

  groupDeleted(group: string, keyIds: string[]): void {
    for (const keyId of keyIds) this.keyRevoked(group, keyId, "group_deleted");
    this.emit(this.deletedListeners, { group, keyIds });
  }

  /** A key stops admitting at `atMs` (the end of a rotation's grace period). */
  scheduleExpiry(group: string, keyId: string, atMs: number): void {
    this.expiries.set(keyId, { group, at: atMs });
    for (const [d, e] of this.cache) {
      if (e.keyId === keyId && e.until > atMs) this.cache.set(d, { ...e, until: atMs });
    }
    this.arm();
  }

  /** Warns (once per minute and key id) when a key id collects failures faster than the limit. */
  private noteFailure(keyId: string, now: number): void {
    this.byKeyId.take(keyId, now);
    if (this.byKeyId.blockedFor(keyId, now) <= 0) return;
    const last = this.warnedAt.get(keyId) ?? 0;
    if (now - last < 60_000) return;
    if (this.warnedAt.size >= MAX_CACHE) this.warnedAt.clear();
    this.warnedAt.set(keyId, now);
    this.o.logger.warn(
      `join key id ${keyId}: more than ${this.o.ratePerMin} failed checks a minute (guessing?); the correct key still gets in`,
    );
  }

  private async check(keyId: string, secret: string, digest: string): Promise<JoinKeyVerdict> {
    const rec = await this.o.store.findKey(keyId);
    // The same argon2 work whether or not the key id exists, so timing tells nothing.
    const matches = rec
      ? await this.o.hasher.verify(rec.secretHash, secret)
      : await this.o.hasher.verifyNothing(secret);
    const now = this.now();
    const end = rec?.expiresAt?.getTime() ?? Infinity;
    if (!rec || !matches || rec.revokedAt !== null || end <= now) {
      this.noteFailure(keyId, now);
      return { ok: false, reason: "refused" };
    }
    if (this.cache.size >= MAX_CACHE) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(digest, {
      group: rec.group,
      keyId,
      until: Math.min(now + this.o.cacheMs, end),
    });
    return { ok: true, group: rec.group, keyId };
  }

  private forget(keyId: string): void {
    for (const [d, e] of this.cache) if (e.keyId === keyId) this.cache.delete(d);
  }

  private arm(): void {
    clearTimeout(this.timer);
    let next = Infinity;
    for (const e of this.expiries.values()) next = Math.min(next, e.at);
    if (next === Infinity) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.now()));
    this.timer = setTimeout(() => this.expireDue(), delay);
    this.timer.unref();
  }

  private expireDue(): void {
    const now = this.now();
    for (const [keyId, e] of [...this.expiries]) {
      if (e.at <= now) this.keyRevoked(e.group, keyId, "expired");
    }
    this.arm();
  }

  private emit<E>(listeners: Set<(e: E) => unknown>, event: E): void {
    for (const l of listeners) {
      try {
        const r = l(event);
        if (r instanceof Promise) {
          r.catch((err: unknown) => this.o.logger.warn(`join-key listener failed: ${String(err)}`));
        }
      } catch (err) {
        this.o.logger.warn(`join-key listener failed: ${String(err)}`);
      }
    }
  }
}

function limited(retryAfterMs: number): JoinKeyVerdict {
  return { ok: false, reason: "rate_limited", retryAfterMs };
}
