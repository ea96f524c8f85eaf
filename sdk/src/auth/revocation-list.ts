import { Kvm } from "@nats-io/kv";
import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import type { Logger } from "../logger";
import { silentLogger } from "../logger";
import { watchConnection } from "../nats/connect-service";
import type { WireNames } from "../wire/names";

/**
 * Value of a key in the revocation bucket `<prefix>_revoked`: a token id, or
 * `sessionRevocationKey(sid)` for a signed-out session.
 */
export interface RevocationRecord {
  /** When the token was revoked, ms since the epoch. */
  revokedAt: number;
}

export interface RevocationListOptions {
  logger?: Logger;
  /** Delay before retrying a missing bucket or a failed watch. @default 1000 */
  retryMs?: number;
}

/**
 * The ids of revoked access tokens and signed-out sessions, followed live from the KV bucket
 * `<prefix>_revoked` that the admin service writes (key = token id, or `sid.<session id>`, see
 * docs/wire-contract.md "Access tokens"). Pass `has` as `verifyAccessToken`'s `isRevoked`,
 * which asks it for both of a token.
 *
 * Fails safe for a verifier: until the current contents have been read, {@link ready} is pending
 * and {@link isReady} false, and callers should refuse API tokens. A bucket that does not exist
 * yet means nothing was ever revoked (it is opened when it appears). After a reconnect the watch
 * is re-created from the last revision seen, so a lost consumer does not leave the list stale.
 */
export class RevocationList {
  private readonly revoked = new Set<string>();
  private lastRevision = 0;
  private closed = false;
  private iter: QueuedIterator<KvWatchEntry> | undefined;
  private kv: KV | undefined;
  private markReady!: () => void;
  private readonly readyPromise = new Promise<void>((r) => (this.markReady = r));
  private readyFlag = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly retryMs: number;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly bucket: string,
    opts: RevocationListOptions,
  ) {
    this.logger = opts.logger ?? silentLogger;
    this.retryMs = opts.retryMs ?? 1000;
  }

  /** Starts following the bucket; await {@link ready} before trusting {@link has}. */
  static start(
    nc: NatsConnection,
    names: WireNames,
    opts: RevocationListOptions = {},
  ): RevocationList {
    const list = new RevocationList(nc, names.revokedBucket, opts);
    list.run();
    watchConnection(nc, (up) => {
      if (up && !list.closed) list.restart();
    });
    return list;
  }

  /** Resolves once the bucket's contents at start have been read (or it was found missing). */
  ready(): Promise<void> {
    return this.readyPromise;
  }

  get isReady(): boolean {
    return this.readyFlag;
  }

  /** True when the key (a token id, or `sessionRevocationKey(sid)`) is revoked. */
  has(key: string): boolean {
    return this.revoked.has(key);
  }

  get size(): number {
    return this.revoked.size;
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.iter?.stop();
  }

  private setReady(): void {
    if (this.readyFlag) return;
    this.readyFlag = true;
    this.markReady();
  }

  private run(): void {
    void this.follow().catch((err: unknown) => {
      if (this.closed) return;
      this.logger.warn(`revocation list: ${err instanceof Error ? err.message : String(err)}`);
      this.retryLater();
    });
  }

  private retryLater(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), this.retryMs);
    this.timer.unref();
  }

  private restart(): void {
    this.iter?.stop();
    this.iter = undefined;
    this.retryLater();
  }

  private async follow(): Promise<void> {
    if (this.closed || this.nc.isClosed()) return;
    const kv = (this.kv ??= await new Kvm(this.nc).open(this.bucket));
    const lastSeq = await this.lastSequence(kv);
    if (lastSeq === undefined) {
      // No bucket: nothing was ever revoked. Look again later.
      this.setReady();
      this.retryLater();
      return;
    }
    if (lastSeq <= this.lastRevision) this.setReady();
    const iter = await kv.watch({
      ...(this.lastRevision > 0 ? { resumeFromRevision: this.lastRevision + 1 } : {}),
    });
    this.iter = iter;
    for await (const e of iter) {
      this.apply(e);
      if (e.revision >= lastSeq) this.setReady();
    }
    if (!this.closed && this.iter === iter) this.retryLater();
  }

  /** The bucket's last stream sequence, or undefined when the bucket does not exist. */
  private async lastSequence(kv: KV): Promise<number | undefined> {
    try {
      return (await kv.status()).streamInfo.state.last_seq;
    } catch (err) {
      if (/stream not found/i.test(String(err))) return undefined;
      throw err;
    }
  }

  private apply(e: KvWatchEntry): void {
    this.lastRevision = Math.max(this.lastRevision, e.revision);
    if (e.operation === "PUT") this.revoked.add(e.key);
    else this.revoked.delete(e.key);
  }
}
