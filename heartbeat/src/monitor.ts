import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { consoleLogger } from "@konorkestra/sdk";
import {
  AccessGate,
  HttpEdge,
  RevocationList,
  connectService,
  resolveAccessAuth,
  serviceInboxPrefix,
  natsAuthOf,
  ensureStreams,
  taggedLogger,
  watchConnection,
  wireNames,
  createHardenedServer,
  readHttpLimits,
} from "@konorkestra/sdk/internal";
import type { Logger } from "@konorkestra/sdk";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { LivenessBackend } from "./backends/liveness-backend";
import { NatsBackend } from "./backends/nats-backend";
import { RedisBackend } from "./backends/redis-backend";
import { coalesceReads } from "./coalesce-reads";
import { DetectionClock } from "./detection-clock";
import { EventPublisher } from "./event-publisher";
import { GroupRegistry } from "./group-registry";
import { HeartbeatConsumer } from "./heartbeat-consumer";
import { HeartbeatHistory } from "./heartbeat-history";
import { HeartbeatValidator } from "./heartbeat-validator";
import { createHttpApp } from "./http/http-app";
import type { ApiAccess } from "./http/token-guard";
import { LivenessEngine } from "./liveness-engine";
import { Membership } from "./membership";
import { createMonitorMetrics } from "./metrics";
import type { MonitorMetrics } from "./metrics";
import { NodeTracker } from "./node-tracker";
import { parseMonitorOptions } from "./options";
import type { MonitorOptions, ResolvedMonitorOptions } from "./options";
import { StreamUsage } from "./stream-usage";
import { JoinKeyChecker } from "./http/join-key-checker";
import { TokenBuckets } from "./token-buckets";

/** A running liveness monitor. */
export interface Monitor {
  readonly options: ResolvedMonitorOptions;
  /** Base URL of its HTTP server, e.g. `http://127.0.0.1:7002`. */
  readonly url: string;
  readonly port: number;
  readonly tracker: NodeTracker;
  readonly metrics: MonitorMetrics;
  readonly clock: DetectionClock;
  readonly membership: Membership;
  /** Resolves once the heartbeat consumer has caught up for the first time. */
  readonly current: Promise<void>;
  /** Stops consuming, hands its nodes over, publishes what is pending and disconnects. */
  close(): Promise<void>;
}

/** Things with no environment form. */
export interface MonitorRuntime {
  /** @default console; every line is tagged `[monitor <id>]` */
  logger?: Logger;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
}

/** Direct gets on KON_HB let the monitor check a deadline against what the server received. */
async function ensureDirectGet(jsm: JetStreamManager, stream: string): Promise<void> {
  const info = await jsm.streams.info(stream);
  if (!info.config.allow_direct)
    await jsm.streams.update(stream, { ...info.config, allow_direct: true });
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/**
 * Starts a liveness monitor: consumes KON_HB, keeps per-node liveness in the chosen backend,
 * publishes `node.*` events, serves HTTP ingest, the nodes API and /metrics.
 */
export async function createMonitor(
  given: MonitorOptions = {},
  runtime: MonitorRuntime = {},
): Promise<Monitor> {
  const options = parseMonitorOptions(given, runtime.env);
  const id = options.monitorId;
  const logger = taggedLogger(runtime.logger ?? consoleLogger, `monitor ${id}`);
  const names = wireNames(options.prefix);
  const nc = await connectService({
    servers: options.servers,
    role: "monitor",
    inboxPrefix: serviceInboxPrefix(names, "monitor"),
    id,
    ...natsAuthOf(options),
  });
  // The whole connection's reads, one event-loop turn at a time (the heartbeat feed taps them).
  coalesceReads(nc, (err) => logger.error(`NATS protocol error: ${String(err)}`));
  try {
    return await assemble(nc, options, names, logger);
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

async function assemble(
  nc: NatsConnection,
  options: ResolvedMonitorOptions,
  names: WireNames,
  logger: Logger,
): Promise<Monitor> {
  const id = options.monitorId;
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const metrics = createMonitorMetrics(id);
  await ensureStreams(jsm, names, { replicas: options.replicas });
  const usage = new StreamUsage(jsm, [names.heartbeatStream, names.eventStream], metrics, logger);
  await ensureDirectGet(jsm, names.heartbeatStream);

  const clock = new DetectionClock();
  const groups = new GroupRegistry(options.groups, options.maxGroups, () =>
    metrics.capped.inc({ cap: "groups" }),
  );
  await groups.start(nc, names, logger);
  const tracker = new NodeTracker(options);
  const validator = new HeartbeatValidator({
    ...options,
    names,
    isKnownGroup: (g) => groups.isKnown(g),
  });
  const history = new HeartbeatHistory(jsm, names.heartbeatStream, validator);
  const membership = new Membership(nc, names, id, options.memberLeaseMs, logger);
  await membership.start(options.replicas);
  const publisher = new EventPublisher(js, names, membership, options.handoverMs, metrics, logger);
  const backend: LivenessBackend =
    options.backend === "redis"
      ? new RedisBackend(
          {
            url: options.redisUrl,
            prefix: names.prefix,
            sweepIntervalMs: options.sweepIntervalMs,
            clock,
          },
          metrics,
          logger,
        )
      : new NatsBackend(nc, names, { ...options, monitorId: id }, metrics, logger);
  await backend.init();
  const seeds = await backend.loadSeeds();
  for (const seed of seeds) tracker.seed(seed);
  logger.info(`${options.backend} backend: restored ${seeds.length} nodes`);

  // A full table lets a beat through untracked: refusing it would fake a down.
  const limiter = new TokenBuckets(
    options.nodeRatePerSec,
    options.nodeBurst,
    options.maxNodes,
    "allow",
    () => metrics.capped.inc({ cap: "stream_limiter" }),
  );
  const engine = new LivenessEngine({
    names,
    tracker,
    clock,
    validator,
    history,
    backend,
    publisher,
    membership,
    limiter,
    forgetAfterMs: options.forgetAfterMs,
    metrics,
    logger,
  });
  const consumer = new HeartbeatConsumer(
    nc,
    jsm,
    names,
    id,
    clock,
    engine,
    logger,
    options.feedPollMs,
  );
  await consumer.start();
  await backend.startExpirySignals((key) => engine.onExpiry(key));
  followConnection(nc, clock, tracker, metrics, logger);

  const ingestLimiter = new TokenBuckets(
    options.ingestRatePerSec,
    options.ingestBurst,
    options.ingestMaxNodes,
    "refuse",
    () => metrics.capped.inc({ cap: "ingest_limiter" }),
  );
  const { access: apiAccess, revocations } = monitorApiAccess(options, nc, names, logger);
  const app = createHttpApp({
    ingest: {
      js,
      names,
      joinKeys: new JoinKeyChecker({ nc, names, cacheMs: options.joinKeyCacheMs }),
      groups,
      limiter: ingestLimiter,
      maxBytes: options.ingestMaxBytes,
      maxMetaBytes: options.maxMetaBytes,
      defaultIntervalMs: options.defaultIntervalMs,
      defaultMisses: options.defaultMisses,
      metrics,
      logger,
    },
    nodes: { tracker, clock, monitorId: id, logger },
    metrics,
    logger,
    edge: new HttpEdge(options),
    access: apiAccess,
    health: () => ({
      ok: !nc.isClosed(),
      monitorId: id,
      backend: options.backend,
      current: clock.isCurrent,
      joined: membership.isJoined,
      members: membership.members(),
      nodes: tracker.size,
      blind: tracker.blind.isBlind,
      blindSinceMs: tracker.blind.blindSinceMs,
    }),
  });
  // Header and request timeouts (KON_HTTP_*): a client dribbling its headers is cut.
  const server = createHardenedServer(app, readHttpLimits());
  const port = await listen(server, options.port, options.host);

  const ticker = new Ticker(engine, clock, membership, tracker, metrics, options, logger);
  ticker.start();
  usage.start();
  logger.info(`listening on http://${options.host}:${port}, consumer ${consumer.name}`);

  let closed: Promise<void> | undefined;
  return {
    options,
    url: `http://${options.host}:${port}`,
    port,
    tracker,
    metrics,
    clock,
    membership,
    current: ticker.current,
    close: () =>
      (closed ??= (async () => {
        ticker.stop();
        usage.stop();
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
        await consumer.stop();
        await engine.settle();
        await publisher.flush();
        await membership.close();
        await backend.close();
        groups.stop();
        revocations?.close();
        await nc.drain().catch(() => nc.close());
      })()),
  };
}

/**
 * Follows the NATS connection: while it is down no deadline may pass, and the monitor is blind
 * (see BlindWindows) until its consumer has caught up again.
 */
function followConnection(
  nc: NatsConnection,
  clock: DetectionClock,
  tracker: NodeTracker,
  metrics: MonitorMetrics,
  logger: Logger,
): void {
  watchConnection(nc, (connected) => {
    clock.setConnected(connected);
    if (connected) {
      clock.markBehind();
      logger.info("NATS reconnected");
    } else {
      if (!tracker.blind.isBlind) {
        tracker.blind.begin(clock.wallMs());
        metrics.blindPeriods.inc();
        metrics.blind.set(1);
      }
      logger.warn(
        "NATS disconnected: the monitor is blind; deadlines are re-armed once it hears again",
      );
    }
  });
}

/**
 * The sweep timer, and the monitor's own lifecycle: when the consumer first catches up, nodes
 * restored as expired are looked up and the monitor joins the membership; a monitor behind for
 * longer than two leases leaves it, so that current monitors own its nodes.
 */
class Ticker {
  readonly current: Promise<void>;
  private resolveCurrent!: () => void;
  private timer: NodeJS.Timeout | undefined;
  private resolved = false;
  private behindSince: number | undefined;
  private busy = false;

  constructor(
    private readonly engine: LivenessEngine,
    private readonly clock: DetectionClock,
    private readonly membership: Membership,
    private readonly tracker: NodeTracker,
    private readonly metrics: MonitorMetrics,
    private readonly options: ResolvedMonitorOptions,
    private readonly logger: Logger,
  ) {
    this.current = new Promise((r) => (this.resolveCurrent = r));
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.sweepIntervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Caught up after a disconnection: the monitor hears again, deadlines run from now. */
  private endBlindness(): void {
    const w = this.tracker.blind.end(this.clock.wallMs());
    if (!w) return;
    this.metrics.blind.set(0);
    this.logger.warn(
      `heard again after ${Math.round(w.endMs - w.startMs)} ms blind: deadlines that fell in ` +
        `that time are re-armed to ${this.options.blindGraceMs} ms + TTL from now`,
    );
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      if (this.clock.isCurrent) {
        this.behindSince = undefined;
        this.endBlindness();
        if (!this.resolved) {
          await this.engine.resolveUnverified();
          this.resolved = true;
          this.resolveCurrent();
          this.logger.info("heartbeat consumer is current");
        }
        this.membership.join();
      } else {
        this.behindSince ??= Date.now();
        if (
          this.membership.isJoined &&
          Date.now() - this.behindSince > 2 * this.options.memberLeaseMs
        ) {
          this.logger.warn("heartbeat consumer behind: handing nodes over");
          await this.membership.leave();
        }
      }
      this.engine.sweep();
    } catch (err) {
      this.logger.error(`sweep failed: ${String(err)}`);
    } finally {
      this.busy = false;
    }
  }
}

/**
 * Who may read the monitor's API: `read` tokens checked with the admin's public key and its
 * revocation list; everyone with KON_AUTH=off; nobody (a clear 401) without a key, since the
 * monitor's own job, liveness, needs no API and must start anyway.
 */
function monitorApiAccess(
  options: ResolvedMonitorOptions,
  nc: NatsConnection,
  names: WireNames,
  logger: Logger,
): { access: ApiAccess; revocations?: RevocationList } {
  if (!options.auth) {
    logger.warn("KON_AUTH=off: the nodes API and /metrics answer anyone (local development only)");
    return { access: "off" };
  }
  if (options.authPublicKeyFile === undefined) {
    logger.warn("no KON_AUTH_PUBLIC_KEY_FILE: the nodes API and /metrics refuse every request");
    return { access: "closed" };
  }
  const auth = resolveAccessAuth(options, "the monitor");
  if (auth.mode === "off") return { access: "off" };
  const revocations = RevocationList.start(nc, names, { logger });
  return {
    access: new AccessGate({ publicKey: auth.publicKey, revocations, requiredScope: "read" }),
    revocations,
  };
}
