import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { consoleLogger } from "@konorkestra/sdk";
import {
  AccessGate,
  HttpEdge,
  RevocationList,
  connectService,
  createHardenedServer,
  serviceInboxPrefix,
  natsAuthOf,
  ensureStreams,
  readHttpLimits,
  resolveAccessAuth,
  taggedLogger,
  watchConnection,
  wireNames,
} from "@konorkestra/sdk/internal";
import type { Logger } from "@konorkestra/sdk";
import type { WireNames } from "@konorkestra/sdk/internal";
import { Pool } from "pg";
import { Backoff, sleep } from "./backoff";
import { redactSecrets } from "./failure-text";
import { runMigrations } from "./db/migrate";
import { applyStoragePolicies } from "./db/storage-policies";
import type { StorageInfo } from "./db/storage-policies";
import { FleetQueries } from "./domain/fleet-queries";
import { RolloutQueries } from "./domain/rollout-queries";
import { createApp, createOpsApp } from "./http/create-app";
import { ConfigEventWriter } from "./ingest/events/config-event-writer";
import { nodeEventWriter } from "./ingest/events/node-event-writer";
import { HeartbeatWriter } from "./ingest/heartbeat/heartbeat-writer";
import { StreamIngester } from "./ingest/stream-ingester";
import type { StreamIngesterOptions } from "./ingest/stream-ingester";
import { MaintenanceLoop } from "./maintenance/maintenance-loop";
import { AnalyticsMetrics } from "./metrics";
import { parseAnalyticsOptions } from "./options";
import type { AnalyticsOptions, ResolvedAnalyticsOptions } from "./options";
import { ConfigEventStore } from "./store/config-event-store";
import { EventStore } from "./store/event-store";
import { FleetStore } from "./store/fleet-store";
import { KvConfigReader } from "./store/kv-config-reader";
import { RolloutStore } from "./store/rollout-store";
import { SeriesStore } from "./store/series-store";

/** Options of {@link createAnalytics} that have no environment form. */
export interface AnalyticsRuntimeOptions extends AnalyticsOptions {
  /** Where the service logs. @default console, prefixed "[analytics]" */
  logger?: Logger;
}

/** A running analytics instance. */
export interface AnalyticsService {
  readonly options: ResolvedAnalyticsOptions;
  /** `http://host:port` of the API and dashboard. */
  readonly url: string;
  readonly port: number;
  readonly storage: StorageInfo;
  readonly metrics: AnalyticsMetrics;
  readonly ingesters: readonly StreamIngester[];
  readonly maintenance: MaintenanceLoop;
  /** Stops HTTP, ingest (unacknowledged messages go back to the stream) and closes connections. */
  close(): Promise<void>;
}

/**
 * Starts an analytics instance: migrations (waiting for PostgreSQL if it is not up yet), storage
 * policies, the three durable consumers (shared with any other instance) and the maintenance loop
 * (role `ingest`), and the HTTP server: the API and dashboard (role `api`), or only /healthz,
 * /metrics and /v1/pipeline (an ingest-only instance). See AnalyticsOptions.roles.
 */
export async function createAnalytics(
  given: AnalyticsRuntimeOptions = {},
): Promise<AnalyticsService> {
  const opts = parseAnalyticsOptions(given);
  const logger = given.logger ?? taggedLogger(consoleLogger, "analytics");
  // Refuse to start on a missing or bad key before anything is opened.
  const auth = resolveAccessAuth(opts, "analytics");
  const edge = new HttpEdge(opts);
  if (auth.mode === "off") {
    logger.warn(
      "KON_AUTH=off: the API and dashboard answer anyone without a token (development only)",
    );
  }
  await migrateWhenReachable(opts, logger);

  const runsApi = opts.roles.includes("api");
  const runsIngest = opts.roles.includes("ingest");
  // Two pools: a burst of API requests must never take the connections the ingest commits with
  // (nor a slow ingest the API's). Each names itself in pg_stat_activity.
  // The API's statements get a shorter limit than the ingest's (60 s: a large COPY under load).
  // Without the ingest role the first only applies the storage policies at start.
  const pool = openPool(
    opts.pgUrl,
    runsIngest ? opts.pgPoolSize : 1,
    "kon-analytics-ingest",
    logger,
    60_000,
  );
  const apiPool = openPool(
    opts.pgUrl,
    opts.apiPgPoolSize,
    "kon-analytics-api",
    logger,
    opts.apiStatementTimeoutMs,
  );
  const storage = await applyStoragePolicies(pool, opts);
  if (!storage.compression) {
    logger.info(
      `TimescaleDB license '${storage.edition}': no compression; retention run by this service`,
    );
  }
  const names = wireNames(opts.prefix);
  const nats = await connectNats(opts);
  const nc = nats.nc;
  await ensureStreams(await jetstreamManager(nc), names, { replicas: opts.replicas });
  const revocations = auth.mode === "on" ? RevocationList.start(nc, names, { logger }) : undefined;
  const access =
    auth.mode === "on"
      ? new AccessGate({ publicKey: auth.publicKey, revocations, requiredScope: "read" })
      : undefined;

  const metrics = new AnalyticsMetrics();
  const kvConfig = new KvConfigReader(nc, names);
  const ingesters = runsIngest
    ? createIngesters(opts, { nc, pool, metrics, logger }, names, kvConfig)
    : [];
  for (const i of ingesters) await i.start();
  const maintenance = new MaintenanceLoop(pool, storage, opts, logger);
  if (runsIngest) maintenance.start();

  const ops = {
    pool: apiPool,
    natsConnected: nats.connected,
    ingesters,
    maintenance,
    storage,
    metrics,
    logger,
    edge,
    access,
  };
  let app;
  if (runsApi) {
    const fleet = new FleetStore(apiPool, opts.flappingHoldMs);
    const configEvents = new ConfigEventStore(apiPool);
    const queries = new FleetQueries(fleet, new EventStore(apiPool), kvConfig, configEvents);
    app = createApp({
      ...ops,
      fleet,
      series: new SeriesStore(apiPool),
      queries,
      configEvents,
      rollouts: new RolloutQueries(new RolloutStore(apiPool), kvConfig),
      apiCacheMs: opts.apiCacheMs,
      admission: { maxInFlight: opts.apiMaxInFlight, maxQueued: opts.apiMaxQueued },
    });
  } else app = createOpsApp(ops);
  const server = await listen(app, opts.port, opts.host);
  const port = (server.address() as AddressInfo).port;
  logger.info(`listening on http://${opts.host}:${port} (roles: ${opts.roles.join(", ")})`);

  return {
    options: opts,
    url: `http://${opts.host}:${port}`,
    port,
    storage,
    metrics,
    ingesters,
    maintenance,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await Promise.all(ingesters.map((i) => i.stop()));
      await maintenance.stop();
      revocations?.close();
      await closeNats(nc);
      await Promise.all([pool.end(), apiPool.end()]);
    },
  };
}

function openPool(
  url: string,
  size: number,
  name: string,
  logger: Logger,
  statementTimeoutMs: number,
): Pool {
  const pool = new Pool({
    connectionString: url,
    max: size,
    application_name: name,
    connectionTimeoutMillis: 5000,
    statement_timeout: statementTimeoutMs,
  });
  // A connection dropped by a server restart must not crash the process: the pool only listens
  // on idle connections, so checked-out ones (mid-transaction) get a listener of their own; the
  // query in flight fails and the ingest retries.
  pool.on("error", (err) => logger.warn(`idle PostgreSQL connection lost: ${err.message}`));
  pool.on("connect", (client) => {
    client.on("error", (err) => logger.warn(`PostgreSQL connection lost: ${err.message}`));
  });
  return pool;
}

/** Connects (reconnecting forever) and tracks whether the connection is up, for /healthz. */
async function connectNats(
  opts: ResolvedAnalyticsOptions,
): Promise<{ nc: NatsConnection; connected: () => boolean }> {
  const nc = await connectService({
    ...natsAuthOf(opts),
    servers: opts.servers,
    role: "analytics",
    inboxPrefix: serviceInboxPrefix(wireNames(opts.prefix), "analytics"),
  });
  let up = true;
  watchConnection(nc, (connected) => {
    up = connected;
  });
  return { nc, connected: () => up && !nc.isClosed() };
}

/** One ingester per stream; every instance binds to the same durable consumers. */
function createIngesters(
  opts: ResolvedAnalyticsOptions,
  deps: Pick<StreamIngesterOptions, "nc" | "pool" | "metrics" | "logger">,
  names: WireNames,
  kvConfig: KvConfigReader,
): StreamIngester[] {
  const { batchRows, batchMs, retryMinMs, retryMaxMs, ackWaitMs } = opts;
  const concurrency = opts.ingestConcurrency;
  const common = { ...deps, batchRows, batchMs, concurrency, retryMinMs, retryMaxMs, ackWaitMs };
  return [
    new StreamIngester({
      ...common,
      stream: names.heartbeatStream,
      durable: opts.heartbeatConsumer,
      filterSubject: names.heartbeatFilter,
      writer: new HeartbeatWriter(names, opts.lateFactor, opts.nodeStateResolutionMs),
    }),
    new StreamIngester({
      ...common,
      stream: names.eventStream,
      durable: opts.eventConsumer,
      filterSubject: names.nodeEventFilter,
      writer: nodeEventWriter(names),
    }),
    // Config events share the stream; a consumer of their own keeps the config history apart
    // from node events (and its look-ups in the config buckets off the node-event path).
    new StreamIngester({
      ...common,
      stream: names.eventStream,
      durable: opts.configConsumer,
      filterSubject: names.configEventFilter,
      writer: new ConfigEventWriter({ names, lookup: kvConfig }),
    }),
  ];
}

async function migrateWhenReachable(opts: ResolvedAnalyticsOptions, logger: Logger): Promise<void> {
  const backoff = new Backoff(opts.retryMinMs, opts.retryMaxMs);
  for (;;) {
    try {
      const applied = await runMigrations(opts.pgUrl);
      if (applied.length > 0) logger.info(`migrations applied: ${applied.join(", ")}`);
      return;
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      if (!/ECONNREFUSED|ENOTFOUND|starting up|shutting down|timeout|terminated/i.test(msg))
        throw err;
      const delay = backoff.next();
      logger.warn(
        `PostgreSQL not reachable for migrations (${redactSecrets(msg)}); retrying in ${delay} ms`,
      );
      await sleep(delay);
    }
  }
}

function listen(app: ReturnType<typeof createApp>, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Header and request timeouts (KON_HTTP_*): a client dribbling its headers is cut.
    const server = createHardenedServer(app, readHttpLimits());
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function closeNats(nc: NatsConnection): Promise<void> {
  if (nc.isClosed()) return;
  await nc.drain().catch(() => nc.close());
}
