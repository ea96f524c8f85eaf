/** A cached response body and when the data in it was read. */
export interface CachedBody {
  readonly body: Buffer;
  /** Date.now() when the build started: the data is at least this fresh. */
  readonly atMs: number;
  /** Weak validator for conditional requests (If-None-Match). */
  readonly etag: string;
}

interface Slot {
  /** The body being served (undefined until the first build finished). */
  ready?: CachedBody;
  /** A build under way, shared by every request that has to wait for it. */
  building?: Promise<CachedBody>;
}

/**
 * Keeps built response bodies for `ttlMs`, keyed by the request's meaning (path and filters).
 * A body is never served older than the TTL. Concurrent requests for a missing or expired key
 * share one build, so a burst of dashboards costs one query; and a request that finds a body
 * past half its TTL starts the next build in the background (refresh-ahead), so clients that
 * poll steadily are answered from memory instead of waiting for a rebuild every TTL. A failed
 * build is not kept.
 */
export class ResponseCache {
  private readonly slots = new Map<string, Slot>();
  private builds = 0;

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 256,
  ) {}

  /** The body for `key`: cached when younger than the TTL (and `fresh` is false), else built. */
  async get(
    key: string,
    build: () => Promise<string | Buffer>,
    fresh = false,
  ): Promise<CachedBody> {
    if (this.ttlMs <= 0) return this.make(build);
    let slot = this.slots.get(key);
    if (!slot) {
      if (this.slots.size >= this.maxEntries) this.slots.clear();
      this.slots.set(key, (slot = {}));
    }
    const age = slot.ready ? Date.now() - slot.ready.atMs : Infinity;
    if (fresh || age >= this.ttlMs) return this.rebuild(slot, build, fresh);
    if (age >= this.ttlMs / 2 && !slot.building) {
      this.rebuild(slot, build).catch(() => undefined); // the next request retries
    }
    return slot.ready!;
  }

  /** Starts (or, unless `fresh`, joins) a build of `slot` and makes its result the served body. */
  private rebuild(
    slot: Slot,
    build: () => Promise<string | Buffer>,
    fresh = false,
  ): Promise<CachedBody> {
    if (slot.building && !fresh) return slot.building;
    const p = this.make(build).then((body) => {
      if (!slot.ready || slot.ready.atMs <= body.atMs) slot.ready = body;
      return body;
    });
    slot.building = p;
    const clear = (): void => {
      if (slot.building === p) slot.building = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  private async make(build: () => Promise<string | Buffer>): Promise<CachedBody> {
    const atMs = Date.now();
    const built = await build();
    const body = typeof built === "string" ? Buffer.from(built, "utf8") : built;
    const n = (this.builds = (this.builds + 1) % 1e9);
    return { body, atMs, etag: `W/"${atMs.toString(36)}-${n.toString(36)}"` };
  }
}
