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

/** Told of each change of an {@link AppliedRegistry} entry. */
export type AppliedListener = (key: string, rev: AppliedRevision | undefined) => void;

/**
 * Config keys this process currently applies. The config watcher writes it; heartbeats report it,
 * so the fleet view can say which revision each node runs.
 */
export class AppliedRegistry {
  private readonly entries = new Map<string, AppliedRevision>();
  private readonly listeners = new Set<AppliedListener>();

  set(key: string, rev: AppliedRevision): void {
    this.entries.set(key, rev);
    for (const l of this.listeners) l(key, rev);
  }

  delete(key: string): void {
    if (!this.entries.delete(key)) return;
    for (const l of this.listeners) l(key, undefined);
  }

  /** Calls `listener` after every change (`undefined`: the key is no longer applied). @returns unsubscribe */
  onChange(listener: AppliedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(key: string): AppliedRevision | undefined {
    return this.entries.get(key);
  }

  /** A copy, keyed by config key. */
  snapshot(): Record<string, AppliedRevision> {
    return Object.fromEntries(this.entries);
  }
}
