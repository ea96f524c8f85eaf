import { hostname } from "node:os";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import type { ConsumerMessages, JetStreamClient } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import {
  NatsHeader,
  monitorLeaseFilter,
  monitorLeaseSubject,
  natsTtl,
  parseMonitorLeaseSubject,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";

/**
 * FNV-1a with murmur3's final mix, 32 bit: stable across processes and well spread. Plain FNV-1a
 * keeps the order of two members' hashes over keys that differ only at the end (`n1`, `n2`, …),
 * which would hand one member every node.
 */
function rendezvousHash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Which monitors are alive, and which of them owns a node. Each monitor renews a key with a TTL
 * in KV bucket `<prefix>_monitors`; a monitor that stops renewing drops out after its lease.
 * Ownership is rendezvous hashing over the live members, so a member joining or leaving moves
 * only its own share of nodes. A monitor joins only once its heartbeat consumer is current: one
 * replaying a backlog must not take nodes from one that is up to date.
 */
export class Membership {
  /** Member id → local time its lease was last seen renewed. */
  private readonly seen = new Map<string, number>();
  private joined = false;
  private timer: NodeJS.Timeout | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly js: JetStreamClient;
  private readonly bucket: string;
  private cache: { atMs: number; members: string[] } | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: WireNames,
    readonly self: string,
    private readonly leaseMs: number,
    private readonly logger: Logger,
    private readonly localNow: () => number = Date.now,
  ) {
    this.js = jetstream(nc);
    this.bucket = names.monitorsBucket;
  }

  /** Creates the bucket and follows it. */
  async start(replicas: number): Promise<void> {
    await new Kvm(this.nc).create(this.bucket, { history: 1, markerTTL: 60_000, replicas });
    const consumer = await this.js.consumers.get(`KV_${this.bucket}`, {
      filter_subjects: [monitorLeaseFilter(this.names)],
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    this.messages = await consumer.consume();
    void (async () => {
      for await (const m of this.messages!) {
        const id = parseMonitorLeaseSubject(this.names, m.subject);
        if (id === undefined) continue; // not a lease a monitor wrote
        const op = m.headers?.get(NatsHeader.KvOperation) ?? "";
        if (op === "DEL" || op === "PURGE" || m.headers?.get(NatsHeader.MarkerReason)) {
          this.seen.delete(id);
        } else {
          const ageMs = Math.max(0, Date.now() - Math.floor(m.info.timestampNanos / 1e6));
          this.seen.set(id, this.localNow() - ageMs);
          if (id === this.self && ageMs < this.leaseMs) this.checkNotTwice(m.data);
        }
        this.cache = undefined;
      }
    })().catch((err: unknown) => this.logger.warn(`membership watch ended: ${String(err)}`));
  }

  /** Starts renewing this monitor's lease. */
  join(): void {
    if (this.joined) return;
    this.joined = true;
    this.cache = undefined;
    void this.renew();
    this.timer = setInterval(() => void this.renew(), Math.max(200, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing and removes the lease, so others take over at once. */
  async leave(): Promise<void> {
    if (!this.joined) return;
    this.joined = false;
    this.cache = undefined;
    clearInterval(this.timer);
    this.seen.delete(this.self);
    try {
      await new Kvm(this.nc).open(this.bucket).then((kv) => kv.delete(this.self));
    } catch (err) {
      this.logger.warn(`cannot remove monitor lease ${this.self}: ${String(err)}`);
    }
  }

  get isJoined(): boolean {
    return this.joined;
  }

  /** Live members, sorted; this monitor is one of them only once joined. */
  members(): string[] {
    const now = this.localNow();
    if (this.cache && now - this.cache.atMs < 100) return this.cache.members;
    const live = new Set<string>();
    for (const [id, at] of this.seen) if (now - at < this.leaseMs) live.add(id);
    if (this.joined) live.add(this.self);
    else live.delete(this.self);
    const members = [...live].sort();
    this.cache = { atMs: now, members };
    return members;
  }

  isLive(id: string): boolean {
    return this.members().includes(id);
  }

  /** The member that owns `key`, or undefined while no monitor has joined. */
  owner(key: string): string | undefined {
    let best: string | undefined;
    let bestHash = -1;
    for (const id of this.members()) {
      const h = rendezvousHash(`${id}|${key}`);
      if (h > bestHash) {
        best = id;
        bestHash = h;
      }
    }
    return best;
  }

  async close(): Promise<void> {
    await this.leave();
    this.messages?.stop();
  }

  /** Two live monitors with one id would share a consumer and a lease: say so loudly. */
  private checkNotTwice(data: Uint8Array): void {
    try {
      const v = JSON.parse(new TextDecoder().decode(data)) as { pid?: number; host?: string };
      if (v.pid !== process.pid || v.host !== hostname()) {
        this.logger.error(
          `another monitor with id ${this.self} is alive (pid ${v.pid} on ${v.host}); give each monitor its own KON_MONITOR_ID`,
        );
      }
    } catch {
      // Not a lease this code wrote: nothing to compare.
    }
  }

  private async renew(): Promise<void> {
    if (!this.joined) return;
    try {
      const ttl = natsTtl(this.leaseMs);
      const value = JSON.stringify({
        monitorId: this.self,
        pid: process.pid,
        host: hostname(),
        at: Date.now(),
      });
      await this.js.publish(monitorLeaseSubject(this.names, this.self), value, { ttl });
      this.seen.set(this.self, this.localNow());
    } catch (err) {
      this.logger.warn(`cannot renew monitor lease ${this.self}: ${String(err)}`);
    }
  }
}
