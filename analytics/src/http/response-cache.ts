import type { BodyHolder } from "./answer-buffers";

/** A cached response body and when the data in it was read. */
export interface CachedBody {
  readonly body: Buffer;
  /** Date.now() when the build started: the data is at least this fresh. */
  readonly atMs: number;
  /** Weak validator for conditional requests (If-None-Match). */
  readonly etag: string;
}

interface Build {
  readonly startedAtMs: number;
  readonly done: Promise<CachedBody>;
}

interface Slot {
  /** The body being served (undefined until the first build finished). */
  ready?: CachedBody;
  /** A build under way, shared by every request that may use it. */
  building?: Build;
  /** The build that starts when `building` ends, for fresh requests that came after it began. */
  next?: Promise<CachedBody>;
}

/**
 * Keeps built response bodies for `ttlMs`, keyed by the request's meaning (path and filters).
 * A body is never served older than the TTL. Concurrent requests for a missing or expired key
 * share one build, so a burst of dashboards costs one query; and a request that finds a body
 * past half its TTL starts the next build in the background (refresh-ahead), so clients that
 * poll steadily are answered from memory instead of waiting for a rebuild every TTL. A failed
 * build is not kept.
 *
 * A fresh request (`Cache-Control: no-cache`, or any request with the cache off) needs data read
 * after it arrived: it shares a build that started at or after its arrival, or else the one that
 * starts when the build under way ends. So a crowd of fresh requests costs at most two builds at
 * a time per key instead of one query each, and none gets older data than it asked for.
 */
export class ResponseCache {
  private readonly slots = new Map<string, Slot>();
  private builds = 0;

  /**
   * `holder` is told which bodies the cache keeps and builds (AnswerBuffers reuses a body's
   * buffer once no one holds it): a build's body is held until the turn after it is handed out,
   * a served body while it is a slot's.
   */
  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 256,
    private readonly holder?: BodyHolder,
  ) {}

  /** The body for `key`: cached when younger than the TTL (and `fresh` is false), else built. */
  async get(
    key: string,
    build: () => Promise<string | Buffer>,
    fresh = false,
  ): Promise<CachedBody> {
    const arrivedAtMs = Date.now();
    let slot = this.slots.get(key);
    if (!slot) {
      if (this.slots.size >= this.maxEntries) {
        for (const s of this.slots.values()) if (s.ready) this.holder?.release(s.ready.body);
        this.slots.clear();
      }
      this.slots.set(key, (slot = {}));
    }
    if (fresh || this.ttlMs <= 0) return this.freshBuild(slot, build, arrivedAtMs);
    const age = slot.ready ? arrivedAtMs - slot.ready.atMs : Infinity;
    if (age >= this.ttlMs) return slot.building?.done ?? this.start(slot, build).done;
    if (age >= this.ttlMs / 2 && !slot.building) {
      this.start(slot, build).done.catch(() => undefined); // the next request retries
    }
    return slot.ready!;
  }

  /** A build that started at or after `arrivedAtMs`: the current one, the next, or a new one. */
  private freshBuild(
    slot: Slot,
    build: () => Promise<string | Buffer>,
    arrivedAtMs: number,
  ): Promise<CachedBody> {
    const current = slot.building;
    if (!current) return this.start(slot, build).done;
    if (current.startedAtMs >= arrivedAtMs) return current.done;
    if (!slot.next) {
      const next = current.done
        .catch(() => undefined)
        .then(() => {
          slot.next = undefined;
          return this.start(slot, build).done;
        });
      slot.next = next;
    }
    return slot.next;
  }

  /** Starts a build of `slot`; its result becomes the served body unless a newer one is. */
  private start(slot: Slot, build: () => Promise<string | Buffer>): Build {
    const startedAtMs = Date.now();
    const done = this.make(build, startedAtMs).then((body) => {
      if (!slot.ready || slot.ready.atMs <= body.atMs) {
        this.holder?.hold(body.body);
        if (slot.ready) this.holder?.release(slot.ready.body);
        slot.ready = body;
      }
      return body;
    });
    const b: Build = { startedAtMs, done };
    slot.building = b;
    const clear = (): void => {
      if (slot.building === b) slot.building = undefined;
    };
    done.then(clear, clear);
    return b;
  }

  private async make(build: () => Promise<string | Buffer>, atMs: number): Promise<CachedBody> {
    const built = await build();
    const body = typeof built === "string" ? Buffer.from(built, "utf8") : built;
    // The build's own hold, let go once those waiting for it have taken theirs.
    const holder = this.holder;
    if (holder) {
      holder.hold(body);
      setImmediate(() => holder.release(body));
    }
    const n = (this.builds = (this.builds + 1) % 1e9);
    return { body, atMs, etag: `W/"${atMs.toString(36)}-${n.toString(36)}"` };
  }
}
