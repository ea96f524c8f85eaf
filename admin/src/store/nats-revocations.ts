import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureRevokedBucket } from "@konorkestra/sdk/internal";
import type { RevocationRecord, WireNames } from "@konorkestra/sdk/internal";
import type { RevocationPublisher } from "../domain/api-tokens";

/** Writes revoked token ids into `<prefix>_revoked`, where every verifier's RevocationList reads them. */
export class NatsRevocations implements RevocationPublisher {
  private kv: Promise<KV> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly replicas: number,
  ) {}

  async publish(tokenId: string, revokedAt: Date): Promise<void> {
    this.kv ??= ensureRevokedBucket(this.nc, this.names, this.replicas);
    const kv = await this.kv.catch((err: unknown) => {
      this.kv = undefined;
      throw err;
    });
    const record: RevocationRecord = { revokedAt: revokedAt.getTime() };
    await kv.put(tokenId, JSON.stringify(record));
  }
}
