import { hostname } from "node:os";
import { z } from "zod";
import {
  GROUP_NAME,
  MAX_INTERVAL_MS,
  MAX_MISSES,
  MIN_INTERVAL_MS,
  MONITOR_ID,
  envList,
  envNumber,
  envString,
  accessAuthOptionsShape,
  httpEdgeOptionsShape,
  mergeAccessAuthOptions,
  mergeHttpEdgeOptions,
  mergeNatsOptions,
  natsOptionsShape,
  parseOptionsWith,
  toNodeIdToken,
} from "@konorkestra/sdk/internal";
import type { AccessAuthOptions, HttpEdgeOptions, NatsOptions } from "@konorkestra/sdk/internal";

/**
 * Options of the liveness monitor ({@link createMonitor}). Every one has an environment form,
 * read by {@link parseMonitorOptions} when the option is not given, with the reading every
 * Konorkestra process shares: an empty variable means the default; numbers are decimal.
 * How to reach NATS (servers, prefix, replicas, auth) is {@link NatsOptions}.
 */
export interface MonitorOptions extends NatsOptions, HttpEdgeOptions, AccessAuthOptions {
  /** Where per-node liveness lives (KON_LIVENESS_BACKEND). @default "nats" */
  backend?: "nats" | "redis";
  /** Redis URL for the redis backend (KON_REDIS_URL). @default "redis://127.0.0.1:6379" */
  redisUrl?: string;
  /** HTTP port of ingest, nodes API and /metrics; 0 picks a free one (KON_MONITOR_PORT). @default 7002 */
  port?: number;
  /** HTTP bind address (KON_MONITOR_HOST). @default "127.0.0.1" */
  host?: string;
  /**
   * Gone: HTTP ingest authenticates with the group's join key (checked by the admin service), so
   * a set KON_INGEST_TOKEN is an error that says so rather than a silently ignored setting.
   */
  ingestToken?: never;
  /**
   * How long HTTP ingest reuses the admin's verdict on a join key, yes or no; a revoked key may
   * pass this long (KON_INGEST_KEY_CACHE_MS; 0: ask every time). @default 5000
   */
  joinKeyCacheMs?: number;
  /**
   * Groups heartbeats may come from (KON_GROUPS, comma-separated). Unset: any valid group name is
   * accepted. Set: a group must be listed here or exist in the `kon_groups` bucket.
   */
  groups?: string[];
  /** A node that goes down more than this many times within `flapWindowMs` is flapping (KON_FLAP_COUNT). @default 3 */
  flapCount?: number;
  /** Flapping window, and how long a flapping node must stay stable (KON_FLAP_WINDOW_MS). @default 300000 */
  flapWindowMs?: number;
  /** Share of a group's nodes lost within one TTL that marks downs suspect (KON_MASS_FAILURE_PCT). @default 50 */
  massFailurePct?: number;
  /** Smallest group the mass-failure rule applies to (KON_MASS_FAILURE_MIN_NODES). @default 4 */
  massFailureMinNodes?: number;
  /** Stable id of this monitor; names its durable consumer (KON_MONITOR_ID). @default host name */
  monitorId?: string;
  /** How long the server keeps an expiry marker (KON_MARKER_TTL_MS). @default 900000 (15 min) */
  markerTtlMs?: number;
  /** How long down/left tombstones stay in `kon_nodes` (KON_TOMBSTONE_TTL_MS). @default 7 days */
  tombstoneTtlMs?: number;
  /**
   * How often a beating node's `kon_nodes` record is rewritten (KON_RECORD_REFRESH_MS), at least
   * one TTL apart; 0: once per TTL. A change of status, a transition, or a change of the node's
   * config keys is written at once whatever this says. The record carries `Nats-TTL` = this
   * period + TTL + 1 s, so a longer period means fewer writes (each also read back by the
   * monitor's marker consumer), `Kon-Hb-Seq`/`Kon-Hb-At` up to one period behind the node's last
   * beat, and the server's expiry marker (a backstop: the monitor's own deadline reports downs)
   * up to period + 1 s after the node's deadline. @default 10000
   */
  recordRefreshMs?: number;
  /** Deadline sweep period (KON_SWEEP_INTERVAL_MS). @default 100 */
  sweepIntervalMs?: number;
  /**
   * 0: the monitor holds one long pull request on its KON_HB consumer and each heartbeat comes
   * as it is stored. Above 0: every this many ms it asks for what is waiting (no_wait batches),
   * so heartbeats come in bursts and detection may wait this much longer (KON_FEED_POLL_MS).
   * Bursts let more TLS records be parsed together (see coalesceReads); measured at 10,000
   * beats/s, 25-50 ms polls used 0.30-0.41 cores against 0.37-0.45 without: not yet conclusive.
   * @default 0
   */
  feedPollMs?: number;
  /** Heartbeat timestamp farther than this from the server's is flagged as skewed (KON_MAX_SKEW_MS). @default 30000 */
  maxSkewMs?: number;
  /** Largest `meta` (UTF-8 keys plus values) kept; larger ones are stripped (KON_MAX_META_BYTES). @default 4096 */
  maxMetaBytes?: number;
  /** Sustained heartbeats per second one node may send (KON_NODE_RATE_PER_SEC). @default 20 */
  nodeRatePerSec?: number;
  /** Burst above the sustained rate (KON_NODE_BURST). @default 40 */
  nodeBurst?: number;
  /** HTTP ingest requests per second per node (KON_INGEST_RATE_PER_SEC). @default 1 */
  ingestRatePerSec?: number;
  /** HTTP ingest burst per node (KON_INGEST_BURST). @default 5 */
  ingestBurst?: number;
  /** Largest HTTP ingest body in bytes (KON_INGEST_MAX_BYTES). @default 16384 */
  ingestMaxBytes?: number;
  /** Membership lease of a monitor; a dead monitor's nodes move after it (KON_MEMBER_LEASE_MS). @default 3000 */
  memberLeaseMs?: number;
  /** How long a non-owner holds an event before publishing it for a vanished owner (KON_HANDOVER_MS). @default 4500 */
  handoverMs?: number;
  /** Interval used when a heartbeat carries none (KON_DEFAULT_INTERVAL_MS). @default 1000 */
  defaultIntervalMs?: number;
  /** Allowed misses used when a heartbeat carries none (KON_DEFAULT_MISSES). @default 3 */
  defaultMisses?: number;
  /**
   * After the monitor was blind (NATS connection lost), nodes get this long plus their TTL from
   * the moment it hears again before any is reported down (KON_BLIND_GRACE_MS). @default 2000
   */
  blindGraceMs?: number;
  /**
   * Most nodes the monitor tracks (KON_MAX_NODES); a new node beyond it evicts the stopped node
   * heard longest ago, or is not tracked if every node is beating. @default 1000000
   */
  maxNodes?: number;
  /** A stopped node silent this long is forgotten (its tombstone stays) (KON_FORGET_AFTER_MS). @default 7 days */
  forgetAfterMs?: number;
  /** Most nodes HTTP ingest rate-limits at once; more are refused with 429 (KON_INGEST_MAX_NODES). @default 100000 */
  ingestMaxNodes?: number;
  /**
   * Without KON_GROUPS: most distinct group names accepted (KON_MAX_GROUPS); groups in the
   * `kon_groups` bucket always count as known. @default 1000
   */
  maxGroups?: number;
}

const intIn = (min: number, max: number) => z.number().int().min(min).max(max);

const schema = z.object({
  ...natsOptionsShape,
  backend: z.enum(["nats", "redis"]),
  redisUrl: z.string().regex(/^rediss?:\/\//, "use redis://host:port"),
  port: intIn(0, 65535),
  host: z.string().min(1),
  ingestToken: z.undefined({
    error:
      "KON_INGEST_TOKEN is no longer used: HTTP ingest authenticates with the group's join key (Authorization: Bearer <join key>); unset it",
  }),
  joinKeyCacheMs: intIn(0, 600_000),
  ...httpEdgeOptionsShape,
  ...accessAuthOptionsShape,
  groups: z
    .array(z.string().regex(GROUP_NAME, "group names are 1-63 of [a-z0-9-]"))
    .min(1)
    .optional(),
  flapCount: intIn(1, 1000),
  flapWindowMs: intIn(1000, 86_400_000),
  massFailurePct: z.number().min(1).max(100),
  massFailureMinNodes: intIn(2, 1_000_000),
  monitorId: z.string().regex(MONITOR_ID, "use 1-64 of [A-Za-z0-9_-]"),
  markerTtlMs: intIn(60_000, 86_400_000),
  tombstoneTtlMs: intIn(60_000, 365 * 86_400_000),
  recordRefreshMs: intIn(0, 3_600_000),
  sweepIntervalMs: intIn(10, 5000),
  feedPollMs: intIn(0, 1000),
  maxSkewMs: intIn(100, 86_400_000),
  maxMetaBytes: intIn(0, 1_048_576),
  nodeRatePerSec: z.number().positive().max(10_000),
  nodeBurst: intIn(1, 100_000),
  ingestRatePerSec: z.number().positive().max(10_000),
  ingestBurst: intIn(1, 100_000),
  ingestMaxBytes: intIn(256, 10_485_760),
  memberLeaseMs: intIn(1000, 60_000),
  handoverMs: intIn(0, 600_000),
  defaultIntervalMs: intIn(MIN_INTERVAL_MS, MAX_INTERVAL_MS),
  defaultMisses: intIn(1, MAX_MISSES),
  blindGraceMs: intIn(0, 600_000),
  maxNodes: intIn(1, 100_000_000),
  forgetAfterMs: intIn(60_000, 365 * 86_400_000),
  ingestMaxNodes: intIn(1, 100_000_000),
  maxGroups: intIn(1, 1_000_000),
});

/** Monitor options after defaults and validation. */
export type ResolvedMonitorOptions = z.output<typeof schema>;

/** The default monitor id: the host name as a token, stable across restarts of one host. */
export function defaultMonitorId(): string {
  return toNodeIdToken(hostname()).slice(0, 64) || "monitor";
}

/** Options given, then KON_* variables, then defaults; throws a KonError naming the bad field. */
export function parseMonitorOptions(
  given: MonitorOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedMonitorOptions {
  const merged = {
    ...mergeNatsOptions(given, env),
    backend: given.backend ?? envString(env, "KON_LIVENESS_BACKEND") ?? "nats",
    redisUrl: given.redisUrl ?? envString(env, "KON_REDIS_URL") ?? "redis://127.0.0.1:6379",
    port: given.port ?? envNumber(env, "KON_MONITOR_PORT") ?? 7002,
    host: given.host ?? envString(env, "KON_MONITOR_HOST") ?? "127.0.0.1",
    ingestToken: given.ingestToken ?? envString(env, "KON_INGEST_TOKEN"),
    joinKeyCacheMs: given.joinKeyCacheMs ?? envNumber(env, "KON_INGEST_KEY_CACHE_MS") ?? 5000,
    ...mergeHttpEdgeOptions(given, env),
    ...mergeAccessAuthOptions(given, env),
    groups: given.groups ?? envList(env, "KON_GROUPS"),
    flapCount: given.flapCount ?? envNumber(env, "KON_FLAP_COUNT") ?? 3,
    flapWindowMs: given.flapWindowMs ?? envNumber(env, "KON_FLAP_WINDOW_MS") ?? 300_000,
    massFailurePct: given.massFailurePct ?? envNumber(env, "KON_MASS_FAILURE_PCT") ?? 50,
    massFailureMinNodes:
      given.massFailureMinNodes ?? envNumber(env, "KON_MASS_FAILURE_MIN_NODES") ?? 4,
    monitorId: given.monitorId ?? envString(env, "KON_MONITOR_ID") ?? defaultMonitorId(),
    markerTtlMs: given.markerTtlMs ?? envNumber(env, "KON_MARKER_TTL_MS") ?? 900_000,
    tombstoneTtlMs:
      given.tombstoneTtlMs ?? envNumber(env, "KON_TOMBSTONE_TTL_MS") ?? 7 * 86_400_000,
    recordRefreshMs: given.recordRefreshMs ?? envNumber(env, "KON_RECORD_REFRESH_MS") ?? 10_000,
    sweepIntervalMs: given.sweepIntervalMs ?? envNumber(env, "KON_SWEEP_INTERVAL_MS") ?? 100,
    feedPollMs: given.feedPollMs ?? envNumber(env, "KON_FEED_POLL_MS") ?? 0,
    maxSkewMs: given.maxSkewMs ?? envNumber(env, "KON_MAX_SKEW_MS") ?? 30_000,
    maxMetaBytes: given.maxMetaBytes ?? envNumber(env, "KON_MAX_META_BYTES") ?? 4096,
    nodeRatePerSec: given.nodeRatePerSec ?? envNumber(env, "KON_NODE_RATE_PER_SEC") ?? 20,
    nodeBurst: given.nodeBurst ?? envNumber(env, "KON_NODE_BURST") ?? 40,
    ingestRatePerSec: given.ingestRatePerSec ?? envNumber(env, "KON_INGEST_RATE_PER_SEC") ?? 1,
    ingestBurst: given.ingestBurst ?? envNumber(env, "KON_INGEST_BURST") ?? 5,
    ingestMaxBytes: given.ingestMaxBytes ?? envNumber(env, "KON_INGEST_MAX_BYTES") ?? 16_384,
    memberLeaseMs: given.memberLeaseMs ?? envNumber(env, "KON_MEMBER_LEASE_MS") ?? 3000,
    handoverMs: given.handoverMs ?? envNumber(env, "KON_HANDOVER_MS") ?? 4500,
    defaultIntervalMs: given.defaultIntervalMs ?? envNumber(env, "KON_DEFAULT_INTERVAL_MS") ?? 1000,
    defaultMisses: given.defaultMisses ?? envNumber(env, "KON_DEFAULT_MISSES") ?? 3,
    blindGraceMs: given.blindGraceMs ?? envNumber(env, "KON_BLIND_GRACE_MS") ?? 2000,
    maxNodes: given.maxNodes ?? envNumber(env, "KON_MAX_NODES") ?? 1_000_000,
    forgetAfterMs: given.forgetAfterMs ?? envNumber(env, "KON_FORGET_AFTER_MS") ?? 7 * 86_400_000,
    ingestMaxNodes: given.ingestMaxNodes ?? envNumber(env, "KON_INGEST_MAX_NODES") ?? 100_000,
    maxGroups: given.maxGroups ?? envNumber(env, "KON_MAX_GROUPS") ?? 1000,
  };
  return parseOptionsWith(schema, merged, "monitor");
}
