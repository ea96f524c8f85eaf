/**
 * The highest revision this process has fully processed (applied or refused, handlers done),
 * and the callers waiting for one (`ensureFresh`).
 */
export class RevisionTracker {
  private processed = 0;
  private waiters: { revision: number; resolve: (ok: boolean) => void }[] = [];

  get revision(): number {
    return this.processed;
  }

  advance(revision: number): void {
    if (revision <= this.processed) return;
    this.processed = revision;
    this.waiters = this.waiters.filter((w) => {
      if (w.revision > revision) return true;
      w.resolve(true);
      return false;
    });
  }

  /** Resolves true once `revision` is processed, false after `timeoutMs` or on `cancelAll`. */
  waitFor(revision: number, timeoutMs: number): Promise<boolean> {
    if (revision <= this.processed) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => settle(false), Math.max(0, timeoutMs));
      const waiter = { revision, resolve: (ok: boolean) => settle(ok) };
      const settle = (ok: boolean): void => {
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(ok);
      };
      this.waiters.push(waiter);
    });
  }

  cancelAll(): void {
    for (const w of [...this.waiters]) w.resolve(false);
  }
}
