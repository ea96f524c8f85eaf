import { z } from "zod";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import type { AppliedChangeSet, ConfigHandle, Konorkestra } from "@konorkestra/sdk";

/** What the agent serves for one key: the value this host runs, with its provenance. */
export interface ConfigView {
  readonly key: string;
  readonly value: unknown;
  /** KV revision (stream sequence of the group's bucket). */
  readonly revision: number;
  readonly sha256: string;
  /** When the writer published it (ISO 8601; 1970 when unknown). */
  readonly updatedAt: string;
  readonly sourcePath: string;
  readonly gitCommit: string;
  readonly gitAuthor: string;
  readonly changeSetId: string;
  readonly changeSetSize: number;
  readonly publishedBy: string;
  /** `nats`, or `snapshot` while NATS has not confirmed the on-disk last-known-good value. */
  readonly origin: string;
  readonly stale: boolean;
  /** The key was deleted at its source; its last value stays (as in the SDK). */
  readonly deleted: boolean;
  /** A newer revision this agent refused (not a usable entry); the value above is still served. */
  readonly refused?: { revision: number; reason: string; code: string };
  /** A newer revision received but not yet current (activate_at, strong commit). */
  readonly pendingRevision?: number;
}

/** Told of each new revision of a key it selected. */
export type ViewListener = (view: ConfigView) => void;

interface Subscription {
  /** undefined: every key of the group. */
  readonly keys: ReadonlySet<string> | undefined;
  readonly listener: ViewListener;
}

/**
 * Any value is served as it was published: the services that read it through the agent own their
 * schemas. (The SDK still refuses entries whose sha256 is not their payload's.)
 */
const ANY_JSON = z.unknown();

/**
 * A key no group is expected to hold. Opening it makes the SDK start the group's watch (there is
 * no other public way to), and its initial load then tells the catalog every key of the group.
 */
const START_PROBE_KEY = "_kon_agent_start";

/**
 * Every config key of the agent's group, as its one SDK connection holds them. Handles are
 * opened on first use (a request, a watcher) and kept; values come only from the SDK's handles,
 * so a revision the SDK refused or holds as pending is never served as current. Change
 * notifications come from the SDK's change-set listener, after every key of a set is current.
 */
export class ConfigCatalog {
  /** Newest accepted revision of every key the group holds. */
  private readonly revisions = new Map<string, number>();
  private readonly handles = new Map<string, Promise<ConfigHandle<unknown>>>();
  private readonly subscriptions = new Set<Subscription>();
  private stopListening: (() => void) | undefined;

  constructor(private readonly kon: Konorkestra) {}

  /** Starts following the group; resolves after its current state is loaded. */
  async start(): Promise<void> {
    this.stopListening = this.kon.onConfigChangeSet((set) => this.onChangeSet(set));
    try {
      // Should a group hold the probe key after all, it is served like any other.
      const probe = await this.kon.config(START_PROBE_KEY, ANY_JSON);
      this.handles.set(START_PROBE_KEY, Promise.resolve(probe));
    } catch (err) {
      if (!(err instanceof KonError && err.code === KonErrorCode.ConfigNotFound)) throw err;
    }
  }

  stop(): void {
    this.stopListening?.();
    this.subscriptions.clear();
  }

  /** Keys of the group with their newest revision, sorted by key. */
  keys(): { key: string; revision: number }[] {
    return [...this.revisions]
      .map(([key, revision]) => ({ key, revision }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /**
   * The current view of `key`.
   * @throws KonError `CONFIG_NOT_FOUND`, `INVALID_NAME`, `CONFIG_UNAVAILABLE`
   */
  async read(key: string): Promise<ConfigView> {
    return this.viewOf(await this.open(key));
  }

  /**
   * Calls `listener` with each new revision of the selected keys (all when `keys` is undefined).
   * @returns unsubscribe
   */
  subscribe(keys: readonly string[] | undefined, listener: ViewListener): () => void {
    const sub: Subscription = { keys: keys ? new Set(keys) : undefined, listener };
    this.subscriptions.add(sub);
    return () => this.subscriptions.delete(sub);
  }

  /**
   * Resolves with the view of `key` once its revision is above `afterRevision` (at once if it
   * already is), or with undefined after `timeoutMs` or when `cancelled` settles.
   */
  async waitNewer(
    key: string,
    afterRevision: number,
    timeoutMs: number,
    cancelled: Promise<unknown>,
  ): Promise<ConfigView | undefined> {
    let resolveNewer!: (v: ConfigView | undefined) => void;
    const newer = new Promise<ConfigView | undefined>((r) => (resolveNewer = r));
    // Subscribed before reading, so a change between the read and the wait is not missed.
    const unsubscribe = this.subscribe([key], (v) => {
      if (v.revision > afterRevision) resolveNewer(v);
    });
    const timer = setTimeout(() => resolveNewer(undefined), timeoutMs);
    void cancelled.then(() => resolveNewer(undefined));
    try {
      const now = await this.read(key);
      if (now.revision > afterRevision) return now;
      return await newer;
    } finally {
      clearTimeout(timer);
      unsubscribe();
    }
  }

  private open(key: string): Promise<ConfigHandle<unknown>> {
    let handle = this.handles.get(key);
    if (!handle) {
      handle = this.kon.config(key, ANY_JSON).catch((err: unknown) => {
        // The SDK's words (bucket, opts.default) mean nothing to the agent's HTTP clients.
        if (err instanceof KonError && err.code === KonErrorCode.ConfigNotFound) {
          throw new KonError(
            KonErrorCode.ConfigNotFound,
            `config key ${key} does not exist in group ${this.kon.group}`,
          );
        }
        throw err;
      });
      this.handles.set(key, handle);
      // A key that does not exist (yet) is asked again next time, never cached as missing.
      handle.catch(() => this.handles.delete(key));
    }
    return handle;
  }

  private async onChangeSet(set: AppliedChangeSet): Promise<void> {
    const changed: string[] = [];
    for (const [key, revision] of Object.entries(set.revisions)) {
      if (revision <= (this.revisions.get(key) ?? 0)) continue; // a reload of what we have
      this.revisions.set(key, revision);
      if (this.wanted(key)) changed.push(key);
    }
    for (const key of changed) {
      let view: ConfigView;
      try {
        view = await this.read(key);
      } catch {
        continue; // deleted again in the meantime; nothing to tell
      }
      for (const sub of [...this.subscriptions]) {
        if (!sub.keys || sub.keys.has(key)) sub.listener(view);
      }
    }
  }

  private wanted(key: string): boolean {
    if (this.handles.has(key)) return true;
    for (const sub of this.subscriptions) if (!sub.keys || sub.keys.has(key)) return true;
    return false;
  }

  private viewOf(handle: ConfigHandle<unknown>): ConfigView {
    const m = handle.meta;
    const refused = handle.refused;
    const pending = this.kon.applied.get(handle.key)?.pendingRevision;
    return {
      key: handle.key,
      value: handle.value,
      revision: m.revision,
      sha256: m.sha256,
      updatedAt: m.updatedAt.toISOString(),
      sourcePath: m.sourcePath,
      gitCommit: m.gitCommit,
      gitAuthor: m.gitAuthor,
      changeSetId: m.changeSetId,
      changeSetSize: m.changeSetSize,
      publishedBy: m.publishedBy,
      origin: m.origin,
      stale: handle.stale,
      deleted: handle.deleted,
      ...(refused
        ? { refused: { revision: refused.revision, reason: refused.reason, code: refused.code } }
        : {}),
      ...(pending !== undefined && pending > m.revision ? { pendingRevision: pending } : {}),
    };
  }
}
