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
  private readonly views = new Map<string, GroupView>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    private readonly logger: Logger,
  ) {}

  /**
   * Node ids of the live nodes of `group` that run any of `keys`, sorted. From the group's watch
   * of `kon_nodes` once it has loaded (no round trip); before that, by reading the records.
   */
  async of(group: string, keys: readonly string[]): Promise<string[]> {
    const kv = await this.bucket();
    if (!kv) return [];
    const wanted = new Set(keys);
    const view = this.views.get(group);
    if (!view) this.follow(kv, group);
    if (view?.ready) {
      const out: string[] = [];
      for (const [node, running] of view.nodes) {
        if ([...running].some((k) => wanted.has(k))) out.push(node);
      }
      return out.sort();
    }
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

  /**
   * Follows the group's records with a KV watch: a record is rewritten at most once per TTL per
   * node, so this costs little, and a prepare then needs no look-up. The view is used once the
   * watch delivered the records that existed when it began; a watch that ends is started again
   * at the next prepare.
   */
  private follow(kv: KV, group: string): void {
    const view: GroupView = { nodes: new Map(), ready: false };
    this.views.set(group, view);
    void (async () => {
      try {
        const it = await kv.watch({ key: `${group}.>` });
        for await (const e of it) {
          const node = parseNodeKey(e.key)?.node;
          if (!node) continue;
          const hb = e.operation === "PUT" && e.value.length > 0 ? heartbeatOf(e.value) : undefined;
          if (hb && !hb.leaving) view.nodes.set(node, new Set(Object.keys(hb.config ?? {})));
          else view.nodes.delete(node);
          if (e.delta === 0) view.ready = true;
        }
      } catch (err) {
        this.logger.warn(`watch of ${this.names.nodesBucket} ${group}.> ended: ${String(err)}`);
      }
      if (this.views.get(group) === view) this.views.delete(group);
    })();
  }

  /** The liveness bucket; undefined while it does not exist (no monitor has run yet). */
  private async bucket(): Promise<KV | undefined> {
    // open() does not check that the bucket exists; status() does (one stream info).
    this.kv ??= new Kvm(this.nc)
      .open(this.names.nodesBucket)
      .then(async (kv) => (await kv.status(), kv));
    try {
      return await this.kv;
    } catch (err) {
      if (!(err instanceof Error && /stream not found/i.test(err.message))) {
        this.kv = undefined;
        throw err;
      }
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

/** The live records of one group: node → the config keys its last heartbeat reported. */
interface GroupView {
  nodes: Map<string, Set<string>>;
  /** True once the watch caught up with the records that existed when it started. */
  ready: boolean;
}

function heartbeatOf(value: Uint8Array): Heartbeat | undefined {
  try {
    return decodeMessage(Heartbeat, value);
  } catch {
    return undefined;
  }
}
