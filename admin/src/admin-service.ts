import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { NatsConnection } from "@nats-io/transport-node";
import { consoleLogger } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import {
  HttpEdge,
  RevocationList,
  connectService,
  natsAuthOf,
  serviceInboxPrefix,
  taggedLogger,
  watchConnection,
  wireNames,
  createHardenedServer,
  readHttpLimits,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { Pool } from "pg";
import { createConfigApi } from "./config-api/config-api";
import type { ConfigApi } from "./config-api/config-api";
import { runMigrations } from "./db/migrate";
import { Accounts } from "./domain/accounts";
import { ApiTokens } from "./domain/api-tokens";
import { Groups } from "./domain/groups";
import { JoinKeys } from "./domain/join-keys";
import { RateLimiter } from "./domain/rate-limiter";
import { TokenSigner } from "./domain/token-signer";
import { createApp } from "./http/create-app";
import { AdminMetrics } from "./metrics";
import { parseAdminOptions } from "./options";
import type { AdminOptions, ResolvedAdminOptions } from "./options";
import { PasswordHasher } from "./secrets/password-hasher";
import { loadSigningKey } from "./secrets/signing-key";
import { AccountStore } from "./store/account-store";
import { ApiTokenStore } from "./store/api-token-store";
import { AuditStore } from "./store/audit-store";
import { GroupStore } from "./store/group-store";
import { NatsGroupBuckets } from "./store/nats-group-buckets";
import { NatsRevocations } from "./store/nats-revocations";
import { RefreshTokenStore } from "./store/refresh-token-store";

/** What an extension of the admin service (the NATS auth-callout responder) is given. */
export interface AdminContext {
  /** The admin's own NATS connection (its system-service credential). */
  nc: NatsConnection;
  names: WireNames;
  /** Join-key checks and the revocation / group-deletion hooks. */
  joinKeys: JoinKeys;
  options: ResolvedAdminOptions;
  metrics: AdminMetrics;
  logger: Logger;
}

/** Started after the HTTP server; its `close` runs first when the service stops. */
export type AdminExtension = (
  ctx: AdminContext,
) => Promise<{ close(): Promise<void> } | void> | { close(): Promise<void> } | void;

/** Options of {@link createAdmin} that have no environment form. */
export interface AdminRuntimeOptions extends AdminOptions {
  /** Where the service logs. @default console, prefixed "[admin]" */
  logger?: Logger;
  /** Attached at start, e.g. the auth-callout responder (see {@link AdminContext}). */
  extensions?: AdminExtension[];
}

/** A running admin instance. */
export interface AdminService {
  readonly options: ResolvedAdminOptions;
  /** `http://host:port` of the API. */
  readonly url: string;
  readonly port: number;
  readonly joinKeys: JoinKeys;
  readonly nc: NatsConnection;
  readonly names: WireNames;
  /** The Ed25519 public key (SPKI PEM) that verifies this service's tokens. */
  readonly publicKeyPem: string;
  readonly metrics: AdminMetrics;
  /** The config write API's parts (compaction can be run from here). */
  readonly config: ConfigApi;
  close(): Promise<void>;
}

/**
 * Starts the admin service: migrations of `kon_admin`, the signing key, NATS (the revocation
 * bucket, republished from PostgreSQL), the bootstrap token while no admin exists, the HTTP API,
 * then the extensions.
 */
export async function createAdmin(given: AdminRuntimeOptions = {}): Promise<AdminService> {
  const opts = parseAdminOptions(given);
  const logger = given.logger ?? taggedLogger(consoleLogger, "admin");
  const names = wireNames(opts.prefix);
  await runMigrations(opts.pgUrl);
  const pool = new Pool({
    connectionString: opts.pgUrl,
    max: opts.pgPoolSize,
    connectionTimeoutMillis: 5000,
  });
  pool.on("error", (err) => logger.warn(`idle PostgreSQL connection lost: ${err.message}`));
  const closers: (() => Promise<void>)[] = [() => pool.end()];
  try {
    const key = loadSigningKey(opts.signingKeyFile);
    const nc = await connectService({
      ...natsAuthOf(opts),
      servers: opts.servers,
      role: "admin",
      inboxPrefix: serviceInboxPrefix(names, "admin"),
    });
    closers.unshift(() => nc.drain().catch(() => nc.close()));
    let natsUp = true;
    watchConnection(nc, (up) => (natsUp = up));

    const metrics = new AdminMetrics();
    const hasher = new PasswordHasher({
      memoryKib: opts.argon2MemoryKib,
      timeCost: opts.argon2TimeCost,
    });
    const signer = new TokenSigner(key.privateKey, key.publicKey);
    const natsRevocations = new NatsRevocations(nc, names, opts.replicas);
    const apiTokens = new ApiTokens(new ApiTokenStore(pool), signer, natsRevocations, logger);
    await apiTokens.republishRevocations();
    const revocations = RevocationList.start(nc, names, { logger });
    closers.unshift(() => Promise.resolve(revocations.close()));
    const joinKeys = new JoinKeys({
      store: new GroupStore(pool),
      hasher,
      logger,
      cacheMs: opts.joinKeyCacheMs,
      ratePerMin: opts.joinRatePerMin,
      onVerdict: (v) => metrics.joinKeyChecks.inc({ outcome: v.ok ? "admitted" : v.reason }),
    });
    await joinKeys.start();
    closers.unshift(() => Promise.resolve(joinKeys.close()));
    const refreshTokens = new RefreshTokenStore(pool);
    const accounts = new Accounts({
      pool,
      store: new AccountStore(pool),
      refresh: refreshTokens,
      hasher,
      signer,
      limiter: new RateLimiter(opts.loginRatePerMin),
      logger,
      sessionTtlMs: opts.sessionTtlMs,
      refreshTtlMs: opts.refreshTtlMs,
      refreshReuseGraceMs: opts.refreshReuseGraceMs,
      invitationTtlMs: opts.invitationTtlMs,
      bootstrapTokenFile: opts.bootstrapTokenFile,
      sessionRevocations: natsRevocations,
    });
    await accounts.ensureBootstrapToken();
    const groups = new Groups({
      pool,
      store: new GroupStore(pool),
      buckets: new NatsGroupBuckets(nc, names, opts.replicas),
      hasher,
      joinKeys,
      logger,
      graceMs: opts.joinKeyGraceMs,
    });
    const config = createConfigApi({
      nc,
      names,
      options: opts,
      groups: new GroupStore(pool),
      accounts: new AccountStore(pool),
      logger,
      metrics,
    });
    closers.unshift(() => Promise.resolve(config.close()));
    const app = createApp({
      config,
      accounts,
      groups,
      apiTokens,
      audit: new AuditStore(pool),
      auth: { signer, apiTokens, revocations, sessions: refreshTokens },
      metrics,
      logger,
      edge: new HttpEdge(opts),
      health: async () => ({
        postgres: await pool.query("SELECT 1").then(
          () => true,
          () => false,
        ),
        nats: natsUp && !nc.isClosed(),
      }),
    });
    const server = await listen(app, opts.port, opts.host);
    closers.unshift(async () => {
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
    });
    const port = (server.address() as AddressInfo).port;
    logger.info(`listening on http://${opts.host}:${port}`);

    const ctx: AdminContext = { nc, names, joinKeys, options: opts, metrics, logger };
    for (const ext of given.extensions ?? []) {
      const started = await ext(ctx);
      if (started) closers.unshift(() => started.close());
    }
    return {
      options: opts,
      url: `http://${opts.host}:${port}`,
      port,
      joinKeys,
      nc,
      names,
      publicKeyPem: key.publicPem,
      metrics,
      config,
      close: () => closeAll(closers),
    };
  } catch (err) {
    await closeAll(closers);
    throw err;
  }
}

async function closeAll(closers: (() => Promise<void>)[]): Promise<void> {
  for (const c of closers.splice(0)) await c().catch(() => undefined);
}

function listen(app: ReturnType<typeof createApp>, port: number, host: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Header and request timeouts (KON_HTTP_*): a client dribbling its headers is cut.
    const server = createHardenedServer(app, readHttpLimits());
    server.once("error", reject);
    server.listen(port, host, () => resolve(server));
  });
}
