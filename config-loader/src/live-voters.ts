import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { parseNodeKey } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";

/**
 * The nodes whose vote a STRONG write waits for: the live nodes of the group (their record in
 * `kon_nodes`, which the liveness monitor keeps while they beat) whose last recorded heartbeat
 * says they run one of the keys (`Heartbeat.config`). A node that opened a key after its record
 * was last written (at most one liveness TTL ago) is not listed yet; it still answers, and its
 * "no" still aborts, but a silence of it is not waited for (docs/architecture.md).
 */
export class LiveVoters {
  private kv: Promise<KV> | undefined;
  private warned = false;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly logger: Logger,
  ) {}

  /** Node ids of the live nodes of `group` that run any of `keys`, sorted. */
  async of(group: string, keys: readonly string[]): Promise<string[]> {
    const kv = await this.bucket();
    if (!kv) return [];
    const wanted = new Set(keys);
    const names: string[] = [];
    for await (const k of await kv.keys(`${group}.>`)) names.push(k);
    const voters = new Set<string>();
    await Promise.all(
      names.map(async (name) => {
        const addr = parseNodeKey(name);
        const e = addr && (await kv.get(name));
        if (!addr || !e || e.operation !== "PUT" || e.value.length === 0) return;
        let hb: Heartbeat;
        try {
          hb = decodeMessage(Heartbeat, e.value);
        } catch {
          return;
        }
        if (hb.leaving) return;
        if (Object.keys(hb.config ?? {}).some((key) => wanted.has(key))) voters.add(addr.node);
      }),
    );
    return [...voters].sort();
  }

  private async bucket(): Promise<KV | undefined> {
    this.kv ??= new Kvm(this.nc).open(this.names.nodesBucket);
    try {
      return await this.kv;
    } catch (err) {
      this.kv = undefined;
      if (!this.warned) {
        this.warned = true;
        this.logger.warn(
          `no liveness records (${this.names.nodesBucket}: ${String(err)}): STRONG writes wait for no node until a monitor runs`,
        );
      }
      return undefined;
    }
  }
}
