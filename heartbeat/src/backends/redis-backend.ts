import { Redis } from "ioredis";
import type { Logger } from "@konorkestra/sdk";
import { parseNodeKey } from "@konorkestra/sdk/internal";
import type { MonitorMetrics } from "../metrics";
import type { NodeLiveness, SeedRecord, TrackerEvent } from "../node-liveness";
import type { ExpiryHandler, LivenessBackend } from "./liveness-backend";
import { recordFields, seedFromFields } from "./node-record";

/** Settings of the Redis liveness store. */
export interface RedisBackendOptions {
  url: string;
  /** Key prefix (the wire prefix, `kon`). */
  prefix: string;
  sweepIntervalMs: number;
  /** The detection clock (server time), and whether it may be trusted now. */
  clock: { nowMs(): number; readonly isCurrent: boolean };
}

// Refresh a node if this heartbeat is newer than the stored one: the lookup key with its PX TTL,
// the record, the deadline; a heartbeat also ends any claim on the node's old deadline.
const REFRESH = `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' and tonumber(obj.lastSeq) and tonumber(obj.lastSeq) >= tonumber(ARGV[6]) then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1`;

// Record a transition unless a newer heartbeat was stored meanwhile.
const RECORD = `
local cur = redis.call('HGET', KEYS[2], ARGV[1])
if cur then
  local ok, obj = pcall(cjson.decode, cur)
  if ok and type(obj) == 'table' and tonumber(obj.lastSeq) and tonumber(obj.lastSeq) > tonumber(ARGV[4]) then
    return 0
  end
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if ARGV[3] ~= 'up' then redis.call('ZREM', KEYS[3], ARGV[1]) end
if ARGV[3] == 'left' then redis.call('DEL', KEYS[1]) end
return 1`;

// Claim due deadlines atomically: each moves to the claimed set with a lease, so exactly one
// monitor handles it; claims whose lease ran out (their monitor died) are handed out again.
const CLAIM = `
local now = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[3])
for _, m in ipairs(due) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZADD', KEYS[2], now + lease, m)
end
local stale = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, ARGV[3])
for _, m in ipairs(stale) do
  redis.call('ZADD', KEYS[2], now + lease, m)
  table.insert(due, m)
end
return due`;

// Give a claimed deadline back (the node still beats); GT never moves a newer deadline back.
const RELEASE = `
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
return 1`;

interface KonCommands {
  konRefresh(...args: (string | number | Buffer)[]): Promise<number>;
  konRecord(...args: (string | number)[]): Promise<number>;
  konClaim(...args: (string | number)[]): Promise<string[]>;
  konRelease(...args: (string | number)[]): Promise<number>;
}

/**
 * Liveness in Redis, the seed's "receiver → Redis TTL → producer" made reliable: a key per node
 * with a PX TTL for lookups, a hash of node records that does not expire (state survives), and
 * deadlines in a sorted set swept every `sweepIntervalMs` and claimed atomically by Lua, so two
 * monitors never both report an expiry and a claim of a crashed monitor is taken over after its
 * lease. Keyspace notifications are not used at all: Redis expires keys lazily and pub/sub drops
 * events while disconnected, so they could only ever be a hint.
 */
export class RedisBackend implements LivenessBackend {
  readonly kind = "redis" as const;
  readonly claimsDowns = true;
  private readonly redis: Redis;
  private readonly cmd: KonCommands;
  private readonly k: {
    state: string;
    deadlines: string;
    claimed: string;
    node: (key: string) => string;
  };
  private timer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private readonly leaseMs: number;

  constructor(
    private readonly opts: RedisBackendOptions,
    private readonly metrics: MonitorMetrics,
    private readonly logger: Logger,
  ) {
    // Auto-pipelining sends the refresh scripts of one event-loop turn (thousands of heartbeats per
    // second) as one write instead of one round trip each.
    this.redis = new Redis(opts.url, {
      lazyConnect: true,
      maxRetriesPerRequest: 2,
      enableAutoPipelining: true,
    });
    this.redis.on("error", (err: Error) => this.logger.warn(`redis: ${err.message}`));
    this.redis.defineCommand("konRefresh", { numberOfKeys: 4, lua: REFRESH });
    this.redis.defineCommand("konRecord", { numberOfKeys: 3, lua: RECORD });
    this.redis.defineCommand("konClaim", { numberOfKeys: 2, lua: CLAIM });
    this.redis.defineCommand("konRelease", { numberOfKeys: 2, lua: RELEASE });
    this.cmd = this.redis as unknown as KonCommands;
    const p = opts.prefix;
    this.k = {
      state: `${p}:state`,
      deadlines: `${p}:deadlines`,
      claimed: `${p}:claimed`,
      node: (key) => `${p}:node:${key}`,
    };
    this.leaseMs = Math.max(2000, 20 * opts.sweepIntervalMs);
  }

  async init(): Promise<void> {
    await this.redis.connect();
  }

  async loadSeeds(): Promise<SeedRecord[]> {
    const all = await this.redis.hgetall(this.k.state);
    const seeds: SeedRecord[] = [];
    for (const [key, json] of Object.entries(all)) {
      const address = parseNodeKey(key);
      if (!address) continue; // not a node key: nothing the monitor wrote
      let fields: Record<string, unknown> = {};
      try {
        fields = JSON.parse(json) as Record<string, unknown>;
      } catch {
        this.logger.warn(`damaged liveness record for ${key} in ${this.k.state}; looking it up`);
      }
      const alive =
        fields.status === "up" || (fields.status === "flapping" && fields.alive === true);
      seeds.push(seedFromFields(address.group, address.node, fields, alive));
    }
    return seeds;
  }

  refresh(node: NodeLiveness, raw: Uint8Array): void {
    const state = JSON.stringify({ ...recordFields(node), alive: true });
    this.cmd
      .konRefresh(
        this.k.node(node.key),
        this.k.state,
        this.k.deadlines,
        this.k.claimed,
        node.key,
        state,
        Buffer.from(raw),
        node.ttlMs,
        node.deadlineMs,
        node.lastSeq,
      )
      .catch((err: unknown) => {
        this.metrics.storeErrors.inc({ op: "refresh" });
        this.logger.warn(`cannot refresh ${node.key} in redis: ${String(err)}`);
      });
  }

  async record(event: TrackerEvent, node: NodeLiveness): Promise<void> {
    if (node.alive && event.kind !== "left") return; // the refresh that follows carries it
    const state = JSON.stringify({ ...recordFields(node), alive: node.alive });
    try {
      await this.cmd.konRecord(
        this.k.node(node.key),
        this.k.state,
        this.k.deadlines,
        node.key,
        state,
        node.alive ? "up" : event.kind === "left" ? "left" : "down",
        node.lastSeq,
      );
    } catch (err) {
      this.metrics.storeErrors.inc({ op: "record" });
      this.logger.warn(`cannot record ${event.kind} of ${node.key} in redis: ${String(err)}`);
    }
  }

  async hasRecorded(event: TrackerEvent): Promise<boolean> {
    const json = await this.redis.hget(this.k.state, event.key);
    if (!json) return false;
    try {
      const rec = JSON.parse(json) as { status?: string; lastSeq?: number };
      return rec.status !== "up" && Number(rec.lastSeq) >= event.seq;
    } catch {
      return false;
    }
  }

  startExpirySignals(handler: ExpiryHandler): Promise<void> {
    this.timer = setInterval(() => void this.sweep(handler), this.opts.sweepIntervalMs);
    this.timer.unref();
    return Promise.resolve();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    while (this.sweeping) await new Promise((r) => setTimeout(r, 10));
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  /**
   * One sweep: claim what is due by the detection clock, judge it, finish or release each. While
   * the monitor is behind on KON_HB the clock is frozen at the newest heartbeat it processed, so
   * only deadlines that already passed by the data seen are claimed (and each is still confirmed
   * against KON_HB); skipping the sweep instead delayed every down until the backlog cleared.
   */
  private async sweep(handler: ExpiryHandler): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.opts.clock.nowMs();
      const keys = await this.cmd.konClaim(
        this.k.deadlines,
        this.k.claimed,
        now,
        this.leaseMs,
        500,
      );
      await Promise.all(keys.map((key) => this.settle(key, handler)));
    } catch (err) {
      this.metrics.storeErrors.inc({ op: "claim" });
      this.logger.warn(`redis deadline sweep failed: ${String(err)}`);
    } finally {
      this.sweeping = false;
    }
  }

  private async settle(key: string, handler: ExpiryHandler): Promise<void> {
    const result = await handler(key).catch((err: unknown) => {
      this.logger.warn(`claimed deadline of ${key}: ${String(err)}`);
      // Judging failed (NATS away?): give the claim back for the next sweep.
      return { outcome: "alive" as const, deadlineMs: this.opts.clock.nowMs() };
    });
    this.metrics.expirySignals.inc({ source: "claim", outcome: result.outcome });
    if (result.outcome === "alive") {
      await this.cmd.konRelease(this.k.deadlines, this.k.claimed, key, result.deadlineMs);
    } else {
      await this.redis.zrem(this.k.claimed, key);
    }
  }
}
