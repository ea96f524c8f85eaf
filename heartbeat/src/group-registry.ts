import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import type { WireNames } from "@konorkestra/sdk/internal";

/**
 * Which groups heartbeats may come from. Lenient by default: with no list configured any valid
 * group name is accepted (groups are created by the admin feature later). With a list
 * (KON_GROUPS), a group is known if it is listed or is a key of the `kon_groups` bucket, which is
 * followed while the monitor runs.
 */
export class GroupRegistry {
  private readonly fromBucket = new Set<string>();
  private watch: QueuedIterator<KvWatchEntry> | undefined;

  constructor(private readonly listed: readonly string[] | undefined) {}

  /** True when every valid group is accepted. */
  get lenient(): boolean {
    return this.listed === undefined;
  }

  isKnown(group: string): boolean {
    return this.listed === undefined || this.listed.includes(group) || this.fromBucket.has(group);
  }

  /** Follows `kon_groups` when a list is configured and the bucket exists. */
  async start(nc: NatsConnection, names: WireNames, logger: Logger): Promise<void> {
    if (this.listed === undefined) return;
    try {
      await (await jetstreamManager(nc)).streams.info(`KV_${names.groupsBucket}`);
    } catch {
      return; // no group registry yet: the list alone decides
    }
    const kv = await new Kvm(nc).open(names.groupsBucket);
    this.watch = await kv.watch();
    void (async () => {
      for await (const e of this.watch!) {
        if (e.operation === "PUT") this.fromBucket.add(e.key);
        else this.fromBucket.delete(e.key);
      }
    })().catch((err: unknown) => logger.warn(`group registry watch ended: ${String(err)}`));
  }

  stop(): void {
    this.watch?.stop();
  }
}
