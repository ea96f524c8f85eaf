import {
  envNumber,
  envString,
  httpEdgeOptionsShape,
  mergeHttpEdgeOptions,
  mergeNatsOptions,
  natsOptionsShape,
  parseOptionsWith,
} from "@konorkestra/sdk/internal";
import type { HttpEdgeOptions, NatsOptions } from "@konorkestra/sdk/internal";
import { z } from "zod";

/**
 * Options of the admin service. Each has an environment form (in parentheses); how NATS is
 * reached (KON_SERVERS, KON_PREFIX, KON_REPLICAS, KON_NKEY_SEED_FILE, KON_TLS_*) is read as by
 * every service.
 */
export interface AdminOptions extends NatsOptions, HttpEdgeOptions {
  /** PostgreSQL, the database analytics uses; admin keeps to schema `kon_admin` (KON_PG_URL). @default "postgres://kon:kon@127.0.0.1:5432/konorkestra" */
  pgUrl?: string;
  /** Connections in the pool (KON_ADMIN_PG_POOL_SIZE). @default 4 */
  pgPoolSize?: number;
  /** HTTP port; 0 picks a free one (KON_ADMIN_PORT). @default 7004 */
  port?: number;
  /** HTTP listen address (KON_ADMIN_HOST). @default "127.0.0.1" */
  host?: string;
  /**
   * PEM file of the Ed25519 key that signs access tokens; created (0600) when missing. Its public
   * key is written next to it as `<file>.pub`, for the services that verify tokens
   * (KON_ADMIN_SIGNING_KEY_FILE). @default ".stack/secrets/admin-signing-key.pem"
   */
  signingKeyFile?: string;
  /**
   * Where the one-time bootstrap token of the first sign-up is written (0600, directory 0700)
   * while no admin exists (KON_ADMIN_BOOTSTRAP_FILE). @default ".stack/secrets/admin-bootstrap-token"
   */
  bootstrapTokenFile?: string;
  /** Lifetime of a session token (KON_ADMIN_SESSION_TTL_MS). @default 900000 (15 min) */
  sessionTtlMs?: number;
  /** Lifetime of a refresh token (KON_ADMIN_REFRESH_TTL_MS). @default 2592000000 (30 days) */
  refreshTtlMs?: number;
  /**
   * How long a refresh token that was just rotated is still answered with a new pair of the
   * same session (several processes or tabs of one client refreshing at once) instead of ending
   * the session as a reused token; 0: never (KON_ADMIN_REFRESH_REUSE_GRACE_MS). @default 10000
   */
  refreshReuseGraceMs?: number;
  /** Default lifetime of an invitation (KON_ADMIN_INVITATION_TTL_MS). @default 604800000 (7 days) */
  invitationTtlMs?: number;
  /** How long a replaced join key stays valid after a rotation (KON_JOIN_KEY_GRACE_MS). @default 3600000 (1 h) */
  joinKeyGraceMs?: number;
  /**
   * How long a successful join-key check is remembered, so a reconnect storm costs one argon2
   * verification per key, not one per connection (KON_JOIN_KEY_CACHE_MS). Revocation, rotation
   * expiry and group deletion clear it at once in this instance. @default 30000
   */
  joinKeyCacheMs?: number;
  /** Failed sign-in or sign-up attempts allowed per source address and per e-mail, per minute (KON_ADMIN_LOGIN_RATE). @default 10 */
  loginRatePerMin?: number;
  /** Join-key checks that need argon2 allowed per source per minute, and failures per key id per minute (KON_JOIN_RATE). @default 30 */
  joinRatePerMin?: number;
  /** argon2id memory cost in KiB (KON_ADMIN_ARGON2_MEMORY_KIB). @default 19456 (OWASP) */
  argon2MemoryKib?: number;
  /** argon2id passes (KON_ADMIN_ARGON2_TIME_COST). @default 2 */
  argon2TimeCost?: number;
  /**
   * The config root the loader watches, `<root>/<group>/<key>.json` (KON_CONFIG_DIR, the same
   * variable as the loader's). Unset: the config API reads but refuses writes with 503.
   */
  configDir?: string;
  /** How long a config write waits for the loader's outcome before answering 202 (KON_CONFIG_WAIT_MS). @default 15000 */
  configWaitMs?: number;
  /** How far ahead an `activate_at` may be (KON_ACTIVATE_HORIZON_MS). @default 604800000 (7 days) */
  activateHorizonMs?: number;
  /** Default age after which compaction purges a delete tombstone; a group's settings override it (KON_TOMBSTONE_GRACE_MS). @default 86400000 (1 day) */
  tombstoneGraceMs?: number;
  /** Between compaction runs over every group's config bucket; 0 = never (KON_CONFIG_COMPACT_MS). @default 600000 */
  compactionIntervalMs?: number;
}

const positiveInt = z.number().int().positive();

const schema = z.object({
  ...natsOptionsShape,
  ...httpEdgeOptionsShape,
  pgUrl: z.string().regex(/^postgres(ql)?:\/\//, "use postgres://user:pass@host:port/db"),
  pgPoolSize: positiveInt.max(100),
  port: z.number().int().min(0).max(65535),
  host: z.string().min(1),
  signingKeyFile: z.string().min(1),
  bootstrapTokenFile: z.string().min(1),
  sessionTtlMs: z.number().int().min(1000).max(86_400_000),
  refreshTtlMs: z.number().int().min(60_000),
  refreshReuseGraceMs: z.number().int().min(0).max(300_000),
  invitationTtlMs: z.number().int().min(1000),
  joinKeyGraceMs: z.number().int().min(0),
  joinKeyCacheMs: z.number().int().min(0).max(3_600_000),
  loginRatePerMin: positiveInt.max(100_000),
  joinRatePerMin: positiveInt.max(1_000_000),
  argon2MemoryKib: z.number().int().min(1024).max(4_194_304),
  argon2TimeCost: positiveInt.max(20),
  configDir: z.string().min(1).optional(),
  configWaitMs: z.number().int().min(100).max(600_000),
  activateHorizonMs: z.number().int().min(1000),
  tombstoneGraceMs: z.number().int().min(0),
  compactionIntervalMs: z.number().int().min(0),
});

/** Admin options with every default filled in. */
export type ResolvedAdminOptions = z.output<typeof schema>;

/**
 * Options given, then KON_* variables (read by the sdk's env readers: unset or blank means the
 * default), then defaults; throws a KonError naming the bad field or variable.
 */
export function parseAdminOptions(
  given: AdminOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedAdminOptions {
  const num = (v: number | undefined, name: string, dflt: number): number =>
    v ?? envNumber(env, name) ?? dflt;
  const merged = {
    ...mergeNatsOptions(given, env),
    ...mergeHttpEdgeOptions(given, env),
    pgUrl:
      given.pgUrl ??
      envString(env, "KON_PG_URL") ??
      "postgres://kon:kon@127.0.0.1:5432/konorkestra",
    pgPoolSize: num(given.pgPoolSize, "KON_ADMIN_PG_POOL_SIZE", 4),
    port: num(given.port, "KON_ADMIN_PORT", 7004),
    host: given.host ?? envString(env, "KON_ADMIN_HOST") ?? "127.0.0.1",
    signingKeyFile:
      given.signingKeyFile ??
      envString(env, "KON_ADMIN_SIGNING_KEY_FILE") ??
      ".stack/secrets/admin-signing-key.pem",
    bootstrapTokenFile:
      given.bootstrapTokenFile ??
      envString(env, "KON_ADMIN_BOOTSTRAP_FILE") ??
      ".stack/secrets/admin-bootstrap-token",
    sessionTtlMs: num(given.sessionTtlMs, "KON_ADMIN_SESSION_TTL_MS", 900_000),
    refreshTtlMs: num(given.refreshTtlMs, "KON_ADMIN_REFRESH_TTL_MS", 30 * 86_400_000),
    refreshReuseGraceMs: num(given.refreshReuseGraceMs, "KON_ADMIN_REFRESH_REUSE_GRACE_MS", 10_000),
    invitationTtlMs: num(given.invitationTtlMs, "KON_ADMIN_INVITATION_TTL_MS", 7 * 86_400_000),
    joinKeyGraceMs: num(given.joinKeyGraceMs, "KON_JOIN_KEY_GRACE_MS", 3_600_000),
    joinKeyCacheMs: num(given.joinKeyCacheMs, "KON_JOIN_KEY_CACHE_MS", 30_000),
    loginRatePerMin: num(given.loginRatePerMin, "KON_ADMIN_LOGIN_RATE", 10),
    joinRatePerMin: num(given.joinRatePerMin, "KON_JOIN_RATE", 30),
    argon2MemoryKib: num(given.argon2MemoryKib, "KON_ADMIN_ARGON2_MEMORY_KIB", 19_456),
    argon2TimeCost: num(given.argon2TimeCost, "KON_ADMIN_ARGON2_TIME_COST", 2),
    configDir: given.configDir ?? envString(env, "KON_CONFIG_DIR"),
    configWaitMs: num(given.configWaitMs, "KON_CONFIG_WAIT_MS", 15_000),
    activateHorizonMs: num(given.activateHorizonMs, "KON_ACTIVATE_HORIZON_MS", 7 * 86_400_000),
    tombstoneGraceMs: num(given.tombstoneGraceMs, "KON_TOMBSTONE_GRACE_MS", 86_400_000),
    compactionIntervalMs: num(given.compactionIntervalMs, "KON_CONFIG_COMPACT_MS", 600_000),
  };
  return parseOptionsWith(schema, merged, "admin");
}
