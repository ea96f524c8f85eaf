import { performance } from "node:perf_hooks";

/** How one change went: when the last watcher applied it, or how many had when time ran out. */
export interface RoundResult {
  readonly version: number;
  readonly ok: boolean;
  /** Milliseconds from just before the write until the last watcher applied it (ok only). */
  readonly lastMs: number;
  /** Milliseconds until the first watcher applied it (NaN when none did). */
  readonly firstMs: number;
  /** Watchers that applied it within the timeout. */
  readonly applied: number;
}

/**
 * Counts, per change, the watchers that applied it, with timestamps from this process's
 * monotonic clock (writer and watchers share the process, so no clock skew enters). A change is
 * identified by the `version` inside the value; a watcher reporting a version twice (an initial
 * value replayed, a redelivery) counts once, and a late report of an older change is ignored.
 */
export class ApplyTracker {
  private readonly seen: Float64Array;
  private version = -1;
  private count = 0;
  private t0 = 0;
  private first = NaN;
  private last = NaN;
  private done: (() => void) | undefined;

  constructor(readonly watchers: number) {
    this.seen = new Float64Array(watchers).fill(-1);
  }

  /** Called by watcher `index` (0-based) when it made value `version` current. */
  applied(index: number, version: number): void {
    if (version !== this.version || this.seen[index] === version) return;
    this.seen[index] = version;
    if (this.count === 0) this.first = performance.now() - this.t0;
    this.count++;
    if (this.count === this.watchers) {
      this.last = performance.now() - this.t0;
      this.done?.();
    }
  }

  /**
   * Starts change `version`, runs `write` (the put, the file save), and resolves when every
   * watcher applied it or `timeoutMs` after the write started. A failed write rejects at once.
   */
  async round(
    version: number,
    write: () => Promise<unknown>,
    timeoutMs: number,
  ): Promise<RoundResult> {
    this.version = version;
    this.count = 0;
    this.first = NaN;
    this.last = NaN;
    let timer: NodeJS.Timeout | undefined;
    let failed: (err: unknown) => void = () => undefined;
    const all = new Promise<boolean>((resolve, reject) => {
      this.done = () => resolve(true);
      failed = reject;
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    this.t0 = performance.now();
    write().catch(failed);
    try {
      const ok = await all;
      return {
        version,
        ok,
        lastMs: ok ? this.last : NaN,
        firstMs: this.first,
        applied: this.count,
      };
    } finally {
      clearTimeout(timer);
      this.done = undefined;
      this.version = -1;
    }
  }
}
