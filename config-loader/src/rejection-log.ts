/**
 * Remembers which rejected content was already logged and announced, so that a bad file is
 * reported once per change — not on every reconcile, resync or retry that reads it again.
 */
export class RejectionLog {
  private readonly logged = new Map<string, string>();
  private readonly announced = new Map<string, string>();

  /** True the first time `fingerprint` is seen for `sourcePath` (then records it). */
  firstLog(sourcePath: string, fingerprint: string): boolean {
    if (this.logged.get(sourcePath) === fingerprint) return false;
    this.logged.set(sourcePath, fingerprint);
    return true;
  }

  /** True while no `config.rejected` event for this content has been stored. */
  needsEvent(sourcePath: string, fingerprint: string): boolean {
    return this.announced.get(sourcePath) !== fingerprint;
  }

  markAnnounced(sourcePath: string, fingerprint: string): void {
    this.announced.set(sourcePath, fingerprint);
  }

  /**
   * After a pass over `group`: files no longer rejected (fixed or gone) are forgotten, so that
   * breaking them again is news.
   */
  settle(group: string, stillRejected: ReadonlySet<string>): void {
    const prefix = `${group}/`;
    for (const map of [this.logged, this.announced]) {
      for (const path of [...map.keys()]) {
        if (path.startsWith(prefix) && !stillRejected.has(path)) map.delete(path);
      }
    }
  }
}
