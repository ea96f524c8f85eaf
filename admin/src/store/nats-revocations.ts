import type { KV } from "@nats-io/kv";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureRevokedBucket, sessionRevocationKey } from "@konorkestra/sdk/internal";
import type { RevocationRecord, WireNames } from "@konorkestra/sdk/internal";
import type { SessionRevocationPublisher } from "../domain/accounts";
import type { RevocationPublisher } from "../domain/api-tokens";

/**
 * Writes revoked token ids, and signed-out sessions (`sid.<session id>`), into `<prefix>_revoked`,
 * where every verifier's RevocationList reads them.
 */
export class NatsRevocations implements RevocationPublisher, SessionRevocationPublisher {
  private kv: Promise<KV> | undefined;
  /** The bucket once it allows per-entry TTLs (only session revocations need them). */
  private ttlKv: Promise<KV> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly replicas: number,
  ) {}

  async publish(tokenId: string, revokedAt: Date): Promise<void> {
    const kv = await this.bucket();
    const record: RevocationRecord = { revokedAt: revokedAt.getTime() };
    await kv.put(tokenId, JSON.stringify(record));
  }

  /**
   * Publishes a revocation that the server removes after `ttlMs` (rounded up to whole seconds):
   * for a token that has expired by then, so the bucket does not grow with every sign-out.
   * The removal leaves a delete marker, from which every RevocationList drops the id too.
   */
  async publishFor(tokenId: string, revokedAt: Date, ttlMs: number): Promise<void> {
    await this.putFor(tokenId, revokedAt, ttlMs);
  }

  /**
   * Publishes every access token of session `sessionId` revoked, until `ttlMs` (the longest any
   * of them can still live) has passed; verifiers refuse a token whose `sid` is listed so.
   */
  async publishSessionFor(sessionId: string, revokedAt: Date, ttlMs: number): Promise<void> {
    await this.putFor(sessionRevocationKey(sessionId), revokedAt, ttlMs);
  }

  private async putFor(key: string, revokedAt: Date, ttlMs: number): Promise<void> {
    this.ttlKv ??= this.bucket().then(async (kv) => {
      await allowMessageTtl(this.nc, `KV_${this.names.revokedBucket}`);
      return kv;
    });
    const kv = await this.ttlKv.catch((err: unknown) => {
      this.ttlKv = undefined;
      throw err;
    });
    const record: RevocationRecord = { revokedAt: revokedAt.getTime() };
    const ttl = `${Math.max(1, Math.ceil(ttlMs / 1000))}s`;
    try {
      await kv.create(key, JSON.stringify(record), ttl);
    } catch (err) {
      // Already revoked (a second sign-out of the same token or session): the first entry stands.
      if ((await kv.get(key))?.operation === "PUT") return;
      throw err;
    }
  }

  private async bucket(): Promise<KV> {
    this.kv ??= ensureRevokedBucket(this.nc, this.names, this.replicas);
    return this.kv.catch((err: unknown) => {
      this.kv = undefined;
      throw err;
    });
  }
}

/** How long the delete marker of an expired revocation stays, for watchers to see it. */
const MARKER_TTL_NS = 15 * 60 * 1e9;

/**
 * Lets entries of the bucket carry their own TTL (NATS >= 2.11), with delete markers when they
 * expire. A bucket made before this is upgraded in place; the setting cannot be turned off again.
 */
async function allowMessageTtl(nc: NatsConnection, stream: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  if (info.config.allow_msg_ttl && info.config.subject_delete_marker_ttl) return;
  await jsm.streams.update(stream, {
    ...info.config,
    allow_msg_ttl: true,
    subject_delete_marker_ttl: MARKER_TTL_NS,
  });
}
