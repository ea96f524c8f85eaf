import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { ensureConfigBucket } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { GroupBuckets } from "../domain/groups";

/**
 * A group's config bucket on NATS, with the sdk's bucket settings, and its entry in the group
 * registry `<prefix>_groups` (key = group, value JSON `{"name","createdAtMs"}`; no secret), which
 * the liveness monitor follows to know which groups exist.
 */
export class NatsGroupBuckets implements GroupBuckets {
  private registry: KV | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly replicas: number,
  ) {}

  async create(group: string): Promise<void> {
    await ensureConfigBucket(this.nc, this.names, group, { replicas: this.replicas });
    await (
      await this.groups()
    ).put(group, JSON.stringify({ name: group, createdAtMs: Date.now() }));
  }

  private async groups(): Promise<KV> {
    this.registry ??= await new Kvm(this.nc).create(this.names.groupsBucket, {
      history: 1,
      replicas: this.replicas,
    });
    return this.registry;
  }

  async remove(group: string): Promise<void> {
    await (await this.groups()).delete(group);
    const jsm = await jetstreamManager(this.nc);
    try {
      await jsm.streams.delete(`KV_${this.names.configBucket(group)}`);
    } catch (err) {
      if (!/stream not found/i.test(String(err))) throw err;
    }
  }
}
