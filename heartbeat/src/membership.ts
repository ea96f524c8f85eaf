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

/** What a lease says: the monitor is alive, and whether it has joined (owns nodes). */
interface Lease {
  /** Local time the lease was last seen renewed. */
  atMs: number;
  joined: boolean;
}

/** A lease without `joined` comes from a monitor that wrote leases only once joined. */
function leaseJoined(data: Uint8Array): boolean {
  try {
    const v = JSON.parse(new TextDecoder().decode(data)) as { joined?: unknown };
    return v.joined !== false;
  } catch {
    return true;
  }
}

/**
 * Which monitors are alive, and which of them owns a node. Each monitor, from its start, renews a
 * key with a TTL in KV bucket `<prefix>_monitors` saying whether it has joined; a monitor that
 * stops renewing drops out after its lease. Ownership is rendezvous hashing over the joined
 * members, so a member joining or leaving moves only its own share of nodes. A monitor joins only
 * once its heartbeat consumer is current: one replaying a backlog must not take nodes from one
 * that is up to date. While no monitor has joined (all behind), ownership is the same hashing
 * over every live monitor, so that still exactly one of them reports each node.
 */
export class Membership {
  /** Monitor id → its lease as last seen. */
  private readonly seen = new Map<string, Lease>();
  private joined = false;
  private joinedAtMs = 0;
  /** Local time this monitor's own lease last came back through the watch. */
  private ownSeenMs = -Infinity;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly js: JetStreamClient;
  private readonly bucket: string;
  private cache: { atMs: number; members: string[]; present: string[] } | undefined;

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

  /**
   * Creates the bucket, follows it and starts renewing this monitor's lease (not joined yet).
   * Resolves once the leases already there are read (at most 2 s), so that a monitor knows from
   * its first event whether others are alive.
   */
  async start(replicas: number): Promise<void> {
    const kv = await new Kvm(this.nc).create(this.bucket, {
      history: 1,
      markerTTL: 60_000,
      replicas,
    });
    const consumer = await this.js.consumers.get(`KV_${this.bucket}`, {
      filter_subjects: [monitorLeaseFilter(this.names)],
      deliver_policy: DeliverPolicy.LastPerSubject,
    });
    const empty = (await kv.status()).values === 0;
    let caughtUp!: () => void;
    const read = new Promise<void>((r) => (caughtUp = r));
    this.messages = await consumer.consume();
    void (async () => {
      for await (const m of this.messages!) {
        this.onLease(m.subject, m.headers, m.data, m.info.timestampNanos);
        if (m.info.pending === 0) caughtUp();
      }
    })().catch((err: unknown) => this.logger.warn(`membership watch ended: ${String(err)}`));
    void this.renew();
    this.timer = setInterval(() => void this.renew(), Math.max(200, Math.floor(this.leaseMs / 3)));
    this.timer.unref();
    if (!empty) await Promise.race([read, new Promise((r) => setTimeout(r, 2000).unref())]);
  }

  /** Joins: this monitor owns its share of the nodes from now on. */
  join(): void {
    if (this.joined || this.closed) return;
    this.joined = true;
    this.joinedAtMs = this.localNow();
    this.cache = undefined;
    void this.renew();
  }

  /** Leaves (the lease stays, saying so), so that the joined monitors take over at once. */
  async leave(): Promise<void> {
    if (!this.joined) return;
    this.joined = false;
    this.cache = undefined;
    await this.renew();
  }

  get isJoined(): boolean {
    return this.joined;
  }

  /**
   * Its own lease came back through the watch within a lease: the watch flows, so what it knows
   * of the others is as recent. Not so after a stall (a paused or starved process, a lost
   * connection): then the others' leases look expired when they are not.
   */
  get isFresh(): boolean {
    return this.localNow() - this.ownSeenMs < this.leaseMs;
  }

  /**
   * Joined for at least a lease, with a fresh view: the others have seen it join, and it has
   * seen their joins and leaves of the same moment. Until then its view of who owns what may
   * differ from theirs.
   */
  get isSettled(): boolean {
    return this.joined && this.localNow() - this.joinedAtMs >= this.leaseMs && this.isFresh;
  }

  /** Joined live members, sorted; this monitor is one of them only once joined. */
  members(): string[] {
    return this.view().members;
  }

  /** Every live monitor, joined or not, this one included; sorted. */
  present(): string[] {
    return this.view().present;
  }

  /** True when `id` is a joined live member. */
  isLive(id: string): boolean {
    return this.members().includes(id);
  }

  /**
   * The monitor that owns `key`: rendezvous hashing over the joined members, or, while none has
   * joined, over every live monitor (this one included), so there is always exactly one.
   */
  owner(key: string): string {
    const { members, present } = this.view();
    let best = this.self;
    let bestHash = -1;
    for (const id of members.length > 0 ? members : present) {
      const h = rendezvousHash(`${id}|${key}`);
      if (h > bestHash) {
        best = id;
        bestHash = h;
      }
    }
    return best;
  }

  /** Stops renewing and removes the lease, so others take over at once. */
  async close(): Promise<void> {
    this.closed = true;
    this.joined = false;
    this.cache = undefined;
    clearInterval(this.timer);
    this.seen.delete(this.self);
    try {
      await new Kvm(this.nc).open(this.bucket).then((kv) => kv.delete(this.self));
    } catch (err) {
      this.logger.warn(`cannot remove monitor lease ${this.self}: ${String(err)}`);
    }
    this.messages?.stop();
  }

  private view(): { members: string[]; present: string[] } {
    const now = this.localNow();
    if (this.cache && now - this.cache.atMs < 100) return this.cache;
    const joined = new Set<string>();
    const live = new Set<string>([this.self]);
    for (const [id, lease] of this.seen) {
      if (id === this.self || now - lease.atMs >= this.leaseMs) continue;
      live.add(id);
      if (lease.joined) joined.add(id);
    }
    if (this.joined) joined.add(this.self);
    this.cache = { atMs: now, members: [...joined].sort(), present: [...live].sort() };
    return this.cache;
  }

  private onLease(
    subject: string,
    headers: { get(name: string): string } | undefined,
    data: Uint8Array,
    timestampNanos: number,
  ): void {
    const id = parseMonitorLeaseSubject(this.names, subject);
    if (id === undefined) return; // not a lease a monitor wrote
    const op = headers?.get(NatsHeader.KvOperation) ?? "";
    if (op === "DEL" || op === "PURGE" || headers?.get(NatsHeader.MarkerReason)) {
      this.seen.delete(id);
    } else {
      const ageMs = Math.max(0, Date.now() - Math.floor(timestampNanos / 1e6));
      this.seen.set(id, { atMs: this.localNow() - ageMs, joined: leaseJoined(data) });
      if (id === this.self && ageMs < this.leaseMs) {
        this.ownSeenMs = this.localNow();
        this.checkNotTwice(data);
      }
    }
    this.cache = undefined;
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
    if (this.closed) return;
    try {
      const ttl = natsTtl(this.leaseMs);
      const value = JSON.stringify({
        monitorId: this.self,
        pid: process.pid,
        host: hostname(),
        at: Date.now(),
        joined: this.joined,
      });
      await this.js.publish(monitorLeaseSubject(this.names, this.self), value, { ttl });
    } catch (err) {
      this.logger.warn(`cannot renew monitor lease ${this.self}: ${String(err)}`);
    }
  }
}
