import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { KvWatchEntry } from "@nats-io/kv";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import type { WireNames } from "@konorkestra/sdk/internal";

/**
 * Which groups heartbeats may come from. A group is known if it is a key of the `kon_groups`
 * bucket (followed while the monitor runs, when the bucket exists) or listed in KON_GROUPS. With
 * no list, other valid group names are accepted too, but at most `maxGroups` distinct ones: a
 * sender inventing group names cannot grow the monitor's tables without bound (each refusal is
 * counted by `onFull`).
 */
export class GroupRegistry {
  private readonly fromBucket = new Set<string>();
  /** Groups accepted without a list, first come first served up to `maxGroups`. */
  private readonly seen = new Set<string>();
  private watch: QueuedIterator<KvWatchEntry> | undefined;

  constructor(
    private readonly listed: readonly string[] | undefined,
    private readonly maxGroups = 1000,
    private readonly onFull: (group: string) => void = () => undefined,
  ) {}

  /** True when groups outside the list and the bucket are accepted (up to the cap). */
  get lenient(): boolean {
    return this.listed === undefined;
  }

  isKnown(group: string): boolean {
    if (this.fromBucket.has(group)) return true;
    if (this.listed !== undefined) return this.listed.includes(group);
    if (this.seen.has(group)) return true;
    if (this.seen.size >= this.maxGroups) {
      this.onFull(group);
      return false;
    }
    this.seen.add(group);
    return true;
  }

  /** Follows `kon_groups` when the bucket exists. */
  async start(nc: NatsConnection, names: WireNames, logger: Logger): Promise<void> {
    try {
      await (await jetstreamManager(nc)).streams.info(`KV_${names.groupsBucket}`);
    } catch {
      return; // no group registry yet: the list (or the cap) alone decides
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
