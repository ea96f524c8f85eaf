import { KonError, KonErrorCode } from "@konorkestra/sdk";
import {
  accessAuthOptionsShape,
  envBool,
  envNumber,
  envString,
  httpEdgeOptionsShape,
  mergeAccessAuthOptions,
  mergeHttpEdgeOptions,
  mergeNatsOptions,
  natsOptionsShape,
  parseOptionsWith,
} from "@konorkestra/sdk/internal";
import type { AccessAuthOptions, HttpEdgeOptions, NatsOptions } from "@konorkestra/sdk/internal";
import { z } from "zod";

/**
 * Options of the analytics service. Each has an environment form (in parentheses); how NATS is
 * reached (KON_SERVERS, KON_PREFIX, KON_REPLICAS for the streams it creates, KON_TOKEN /
 * KON_USER / KON_PASSWORD) is read as by every service. The API and dashboard need an access
 * token with the `read` scope (KON_AUTH_PUBLIC_KEY_FILE, KON_AUTH) and answer only their own
 * Host names (KON_HTTP_ALLOWED_HOSTS, KON_HTTP_CORS_ORIGINS), as every HTTP service does.
 */
export interface AnalyticsOptions extends NatsOptions, HttpEdgeOptions, AccessAuthOptions {
  /** PostgreSQL with TimescaleDB (KON_PG_URL). @default "postgres://kon:kon@127.0.0.1:5432/konorkestra" */
  pgUrl?: string;
  /** Connections of the ingest and maintenance pool (KON_PG_POOL_SIZE). @default 8 */
  pgPoolSize?: number;
  /**
   * Connections of the HTTP API's own pool (KON_API_PG_POOL_SIZE): API requests queue for these
   * and never for the ingest's, so a crowd of dashboards cannot slow the ingest. @default 4
   */
  apiPgPoolSize?: number;
  /**
   * API requests worked on at the same time (KON_API_MAX_IN_FLIGHT); more wait in line.
   * @default 32
   */
  apiMaxInFlight?: number;
  /**
   * API requests waiting in line (KON_API_MAX_QUEUED); beyond it a request is answered 503
   * with Retry-After, so an overloaded API sheds load instead of queueing without bound.
   * @default 256
   */
  apiMaxQueued?: number;
  /**
   * Longest statement of the API's pool, ms (KON_API_STATEMENT_TIMEOUT_MS): a runaway query
   * (a year of incidents over a large fleet) is cancelled instead of holding an API connection
   * and PostgreSQL's CPU. The ingest pool keeps its own, longer limit. @default 10000
   */
  apiStatementTimeoutMs?: number;
  /** HTTP port; 0 picks a free one (KON_ANALYTICS_PORT). @default 7003 */
  port?: number;
  /** HTTP listen address (KON_ANALYTICS_HOST). @default "127.0.0.1" */
  host?: string;
  /**
   * How long a `/v1/nodes` answer is served from memory, so that many dashboards polling a large
   * fleet cost one query per period; answers may be this much older (KON_API_CACHE_MS; 0 turns
   * the cache off). A request with `Cache-Control: no-cache` always gets a fresh answer.
   * @default 1000
   */
  apiCacheMs?: number;
  /** Rows per ingest batch (KON_INGEST_BATCH_ROWS). @default 5000 */
  batchRows?: number;
  /**
   * Longest wait to fill a batch (KON_INGEST_BATCH_MS): under light load, most of the lag from
   * publish to row. Under heavy load batches fill by count first. @default 100
   */
  batchMs?: number;
  /**
   * Batches of one stream written at the same time, each in its own transaction and connection
   * (KON_INGEST_CONCURRENCY). One more than the cores PostgreSQL can use keeps it busy while
   * a batch is decoded and acknowledged. @default 2
   */
  ingestConcurrency?: number;
  /** First retry delay after a failed write (KON_INGEST_RETRY_MIN_MS). @default 100 */
  retryMinMs?: number;
  /** Longest retry delay (KON_INGEST_RETRY_MAX_MS). @default 5000 */
  retryMaxMs?: number;
  /** Durable consumer on the heartbeat stream (KON_ANALYTICS_CONSUMER_HB). @default "analytics-hb" */
  heartbeatConsumer?: string;
  /** Durable consumer on the event stream (KON_ANALYTICS_CONSUMER_EVT). @default "analytics-evt" */
  eventConsumer?: string;
  /**
   * Durable consumer of config events (`<prefix>.evt.*.config.>` on the event stream) for the
   * config history (KON_ANALYTICS_CONSUMER_CFG). @default "analytics-cfg"
   */
  configConsumer?: string;
  /** Ack wait of the durable consumers (KON_INGEST_ACK_WAIT_MS). @default 30000 */
  ackWaitMs?: number;
  /**
   * A beat is late when it reaches the NATS server more than interval × this after it was sent
   * (KON_LATE_FACTOR). Judged per beat, so it needs no state shared between batches or instances.
   * @default 0.5
   */
  lateFactor?: number;
  /**
   * How stale node_state's last-beat time may get before a beat refreshes it; a change of process
   * or config always does (KON_NODE_STATE_RESOLUTION_MS). @default 2000
   */
  nodeStateResolutionMs?: number;
  /** Chunk interval of `heartbeats` (KON_HB_CHUNK_INTERVAL). 1 h ≈ 36 M rows at 10,000 nodes × 1 Hz. @default "1 hour" */
  heartbeatChunkInterval?: string;
  /**
   * Keep an index on `heartbeats (group_name, node_id, time DESC)` for queries of one node's raw
   * beats (KON_HB_NODE_INDEX=on|off). It more than doubles PostgreSQL's cost per stored beat
   * (2.5 → 5.7 µs on the benchmark machine), and nothing in the API needs it: per-node series come
   * from the per-minute rollup. Created or dropped at start. @default false
   */
  heartbeatNodeIndex?: boolean;
  /** Chunk interval of `node_events` (KON_EVENT_CHUNK_INTERVAL). @default "7 days" */
  eventChunkInterval?: string;
  /** Chunk interval of the per-minute rollup (KON_ROLLUP_CHUNK_INTERVAL). @default "7 days" */
  rollupChunkInterval?: string;
  /** Raw heartbeats kept (KON_RETENTION_RAW). @default "7 days" */
  rawRetention?: string;
  /** Node events kept (KON_RETENTION_EVENTS). @default "1 year" */
  eventRetention?: string;
  /**
   * Config history (`config_events`) kept (KON_RETENTION_CONFIG_EVENTS). An audit trail, and a
   * small one (a row per change or rejection), so longer than node events. Its chunk interval
   * is KON_EVENT_CHUNK_INTERVAL's. @default "2 years"
   */
  configEventRetention?: string;
  /** Per-minute rollup kept (KON_RETENTION_AGGREGATES). @default "1 year" */
  aggregateRetention?: string;
  /** Compress (columnstore) raw chunks older than this, where the edition allows (KON_COMPRESS_AFTER); "off" disables. @default "1 day" */
  compressAfter?: string;
  /** How often the rollup is refreshed and retention applied (KON_MAINTENANCE_INTERVAL_MS). @default 10000 */
  maintenanceIntervalMs?: number;
  /** Minutes younger than this stay real-time, not materialized (KON_ROLLUP_LAG_MS). @default 60000 */
  rollupLagMs?: number;
  /** A FLAPPING event marks its node flapping for this long (KON_FLAPPING_HOLD_MS). @default 600000 */
  flappingHoldMs?: number;
  /**
   * What this instance does (KON_ANALYTICS_ROLES, comma-separated): `ingest` (the durable
   * consumers and the maintenance loop), `api` (the HTTP API and dashboard), or both. An
   * `ingest`-only instance answers only /healthz, /metrics and /v1/pipeline; run the API as
   * instances of their own so that a crowd of dashboards cannot take the ingest's event loop
   * (or, with per-process CPU limits, its cores). @default ["api", "ingest"]
   */
  roles?: AnalyticsRole[];
}

/** See {@link AnalyticsOptions.roles}. */
export type AnalyticsRole = "api" | "ingest";
export const ANALYTICS_ROLES: readonly AnalyticsRole[] = ["api", "ingest"];

const interval = z
  .string()
  .regex(
    /^\d+\s*(second|minute|hour|day|week|month|year)s?$/,
    "use '<n> <unit>', unit one of second, minute, hour, day, week, month, year",
  );
const positiveInt = z.number().int().positive();

const schema = z.object({
  ...natsOptionsShape,
  ...httpEdgeOptionsShape,
  ...accessAuthOptionsShape,
  pgUrl: z.string().regex(/^postgres(ql)?:\/\//, "use postgres://user:pass@host:port/db"),
  pgPoolSize: positiveInt.max(100),
  apiPgPoolSize: positiveInt.max(100),
  apiMaxInFlight: positiveInt.max(10_000),
  apiMaxQueued: z.number().int().min(0).max(100_000),
  apiStatementTimeoutMs: z.number().int().min(100),
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1),
  apiCacheMs: z.number().int().min(0).max(60_000),
  batchRows: positiveInt.max(100_000),
  batchMs: positiveInt.max(60_000),
  ingestConcurrency: positiveInt.max(32),
  retryMinMs: positiveInt,
  retryMaxMs: positiveInt,
  heartbeatConsumer: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  eventConsumer: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  configConsumer: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
  ackWaitMs: z.number().int().min(1000),
  lateFactor: z.number().positive(),
  nodeStateResolutionMs: z.number().int().min(0),
  heartbeatChunkInterval: interval,
  heartbeatNodeIndex: z.boolean(),
  eventChunkInterval: interval,
  rollupChunkInterval: interval,
  rawRetention: interval,
  eventRetention: interval,
  configEventRetention: interval,
  aggregateRetention: interval,
  compressAfter: z.union([interval, z.literal("off")]),
  maintenanceIntervalMs: z.number().int().min(100),
  rollupLagMs: z.number().int().min(0),
  flappingHoldMs: z.number().int().min(0),
  roles: z
    .array(z.enum(ANALYTICS_ROLES as [AnalyticsRole, ...AnalyticsRole[]]))
    .min(1, "name at least one of api, ingest")
    .transform((r) => [...new Set(r)].sort()),
});

/** Analytics options with every default filled in. */
export type ResolvedAnalyticsOptions = z.output<typeof schema>;

/**
 * Options given, then KON_* variables (read by the sdk's env readers: unset or blank means the
 * default), then defaults; throws a KonError naming the bad field or variable.
 */
export function parseAnalyticsOptions(
  given: AnalyticsOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedAnalyticsOptions {
  const merged = {
    ...mergeNatsOptions(given, env),
    ...mergeHttpEdgeOptions(given, env),
    ...mergeAccessAuthOptions(given, env),
    pgUrl:
      given.pgUrl ??
      envString(env, "KON_PG_URL") ??
      "postgres://kon:kon@127.0.0.1:5432/konorkestra",
    pgPoolSize: given.pgPoolSize ?? envNumber(env, "KON_PG_POOL_SIZE") ?? 8,
    apiPgPoolSize: given.apiPgPoolSize ?? envNumber(env, "KON_API_PG_POOL_SIZE") ?? 4,
    apiMaxInFlight: given.apiMaxInFlight ?? envNumber(env, "KON_API_MAX_IN_FLIGHT") ?? 32,
    apiMaxQueued: given.apiMaxQueued ?? envNumber(env, "KON_API_MAX_QUEUED") ?? 256,
    apiStatementTimeoutMs:
      given.apiStatementTimeoutMs ?? envNumber(env, "KON_API_STATEMENT_TIMEOUT_MS") ?? 10_000,
    port: given.port ?? envNumber(env, "KON_ANALYTICS_PORT") ?? 7003,
    host: given.host ?? envString(env, "KON_ANALYTICS_HOST") ?? "127.0.0.1",
    apiCacheMs: given.apiCacheMs ?? envNumber(env, "KON_API_CACHE_MS") ?? 1000,
    batchRows: given.batchRows ?? envNumber(env, "KON_INGEST_BATCH_ROWS") ?? 5000,
    batchMs: given.batchMs ?? envNumber(env, "KON_INGEST_BATCH_MS") ?? 100,
    ingestConcurrency: given.ingestConcurrency ?? envNumber(env, "KON_INGEST_CONCURRENCY") ?? 2,
    retryMinMs: given.retryMinMs ?? envNumber(env, "KON_INGEST_RETRY_MIN_MS") ?? 100,
    retryMaxMs: given.retryMaxMs ?? envNumber(env, "KON_INGEST_RETRY_MAX_MS") ?? 5000,
    heartbeatConsumer:
      given.heartbeatConsumer ?? envString(env, "KON_ANALYTICS_CONSUMER_HB") ?? "analytics-hb",
    eventConsumer:
      given.eventConsumer ?? envString(env, "KON_ANALYTICS_CONSUMER_EVT") ?? "analytics-evt",
    configConsumer:
      given.configConsumer ?? envString(env, "KON_ANALYTICS_CONSUMER_CFG") ?? "analytics-cfg",
    ackWaitMs: given.ackWaitMs ?? envNumber(env, "KON_INGEST_ACK_WAIT_MS") ?? 30_000,
    lateFactor: given.lateFactor ?? envNumber(env, "KON_LATE_FACTOR") ?? 0.5,
    nodeStateResolutionMs:
      given.nodeStateResolutionMs ?? envNumber(env, "KON_NODE_STATE_RESOLUTION_MS") ?? 2000,
    heartbeatChunkInterval:
      given.heartbeatChunkInterval ?? envString(env, "KON_HB_CHUNK_INTERVAL") ?? "1 hour",
    heartbeatNodeIndex: given.heartbeatNodeIndex ?? envBool(env, "KON_HB_NODE_INDEX") ?? false,
    eventChunkInterval:
      given.eventChunkInterval ?? envString(env, "KON_EVENT_CHUNK_INTERVAL") ?? "7 days",
    rollupChunkInterval:
      given.rollupChunkInterval ?? envString(env, "KON_ROLLUP_CHUNK_INTERVAL") ?? "7 days",
    rawRetention: given.rawRetention ?? envString(env, "KON_RETENTION_RAW") ?? "7 days",
    eventRetention: given.eventRetention ?? envString(env, "KON_RETENTION_EVENTS") ?? "1 year",
    configEventRetention:
      given.configEventRetention ?? envString(env, "KON_RETENTION_CONFIG_EVENTS") ?? "2 years",
    aggregateRetention:
      given.aggregateRetention ?? envString(env, "KON_RETENTION_AGGREGATES") ?? "1 year",
    compressAfter: given.compressAfter ?? envString(env, "KON_COMPRESS_AFTER") ?? "1 day",
    maintenanceIntervalMs:
      given.maintenanceIntervalMs ?? envNumber(env, "KON_MAINTENANCE_INTERVAL_MS") ?? 10_000,
    rollupLagMs: given.rollupLagMs ?? envNumber(env, "KON_ROLLUP_LAG_MS") ?? 60_000,
    flappingHoldMs: given.flappingHoldMs ?? envNumber(env, "KON_FLAPPING_HOLD_MS") ?? 600_000,
    roles:
      given.roles ??
      envString(env, "KON_ANALYTICS_ROLES")
        ?.split(",")
        .map((r) => r.trim())
        .filter(Boolean) ??
      ANALYTICS_ROLES,
  };
  const opts = parseOptionsWith(schema, merged, "analytics");
  if (opts.retryMaxMs < opts.retryMinMs) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      "invalid analytics option retryMaxMs: must be at least retryMinMs",
    );
  }
  return opts;
}
