/** What a process runs for one config key. */
export interface AppliedRevision {
  /** KV revision (stream sequence) of the applied value. */
  revision: number;
  sha256: string;
  appliedAtMs: number;
  /** Newest revision this process refused (failed its schema), if newer than `revision`. */
  rejectedRevision?: number;
  /** Revision received but not yet current (waiting for `activate_at` or a strong commit). */
  pendingRevision?: number;
}

/**
 * Config keys this process currently applies. The config watcher writes it; heartbeats report it,
 * so the fleet view can say which revision each node runs.
 */
export class AppliedRegistry {
  private readonly entries = new Map<string, AppliedRevision>();

  set(key: string, rev: AppliedRevision): void {
    this.entries.set(key, rev);
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  get(key: string): AppliedRevision | undefined {
    return this.entries.get(key);
  }

  /** A copy, keyed by config key. */
  snapshot(): Record<string, AppliedRevision> {
    return Object.fromEntries(this.entries);
  }
}
