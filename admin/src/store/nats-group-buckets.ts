import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureConfigBucket } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { GroupBuckets } from "../domain/groups";

/** A group's config bucket on NATS, with the sdk's bucket settings. */
export class NatsGroupBuckets implements GroupBuckets {
  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly replicas: number,
  ) {}

  async create(group: string): Promise<void> {
    await ensureConfigBucket(this.nc, this.names, group, { replicas: this.replicas });
  }

  async remove(group: string): Promise<void> {
    const jsm = await jetstreamManager(this.nc);
    try {
      await jsm.streams.delete(`KV_${this.names.configBucket(group)}`);
    } catch (err) {
      if (!/stream not found/i.test(String(err))) throw err;
    }
  }
}
