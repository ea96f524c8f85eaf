import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createTestTokens,
  startNats,
  startPostgresServer,
  startRedis,
  withClient,
} from "@konorkestra/testkit";
import type { NatsServer, PostgresServer, RedisServer } from "@konorkestra/testkit";
import type { CleanupStack } from "../cleanup-stack";
import { startAnalyticsProcess } from "../ingest/analytics-process";
import { startMonitorProcess } from "../liveness/monitor-process";
import { startLoaderProcess } from "./loader-process";
import { ServiceSlot, getHealth } from "./service-slot";

const DB = "kon_chaos";
/** The monitor keeps its id across restarts, so that its durable consumer resumes. */
const MONITOR_ID = "chaos-monitor";

/** The local stack of a drill run: three servers and three services, each restartable. */
export interface ChaosStack {
  readonly nats: NatsServer;
  readonly pg: PostgresServer;
  readonly redis: RedisServer;
  /** The analytics database, as the superuser (for the checks). */
  readonly dbUrl: string;
  /** The loader's config root. */
  readonly configDir: string;
  /** A scratch folder beside it (temp files of atomic saves, SDK snapshots). */
  readonly scratchDir: string;
  readonly loader: ServiceSlot;
  readonly monitor: ServiceSlot;
  readonly analytics: ServiceSlot;
  /** PostgreSQL settings the analytics sessions run with (`name=value`). */
  readonly pgSettings: string[];
}

interface MonitorHealth {
  ok?: boolean;
  current?: boolean;
  blind?: boolean;
}

/**
 * Starts nats-server, PostgreSQL+TimescaleDB and Redis through testkit (loopback, TLS and
 * accounts on), then the config-loader, the liveness monitor and analytics as child processes,
 * each with its own least-privilege NATS credential, as `make up` runs them.
 */
export async function startChaosStack(cleanup: CleanupStack): Promise<ChaosStack> {
  const base = mkdtempSync(join(process.env.KON_TEST_TMPDIR ?? tmpdir(), "kon-chaos-"));
  cleanup.push(() => Promise.resolve(rmSync(base, { recursive: true, force: true })));
  const configDir = join(base, "config");
  const scratchDir = join(base, "scratch");
  mkdirSync(configDir);
  mkdirSync(scratchDir, { mode: 0o700 });

  const [nats, pg, redis] = await Promise.all([startNats(), startPostgresServer(), startRedis()]);
  cleanup.push(() => nats.stop());
  cleanup.push(() => pg.stop());
  cleanup.push(() => redis.stop());
  const pgSettings = await prepareDatabase(pg);
  const tokens = createTestTokens();
  cleanup.push(() => Promise.resolve(tokens.remove()));

  const analytics = new ServiceSlot(
    "analytics",
    () =>
      startAnalyticsProcess(
        { ...nats.serviceEnv("analytics"), KON_AUTH_PUBLIC_KEY_FILE: tokens.publicKeyFile },
        pg.url(DB),
      ),
    async (url) => (await getHealth(url)).status === 200,
  );
  const monitor = new ServiceSlot(
    "monitor",
    () =>
      startMonitorProcess({
        ...nats.serviceEnv("monitor"),
        KON_MONITOR_ID: MONITOR_ID,
        KON_REDIS_URL: redis.url,
      }),
    async (url) => {
      const h = (await getHealth(url)).body as MonitorHealth | undefined;
      return h?.ok === true && h.current === true && h.blind !== true;
    },
  );
  const loader = new ServiceSlot(
    "config-loader",
    () =>
      startLoaderProcess({
        ...nats.serviceEnv("config-loader"),
        KON_CONFIG_DIR: configDir,
        KON_GIT: "off",
      }),
    async (url) => (await getHealth(url)).status === 200,
  );
  // Analytics first: its durable consumers then see every heartbeat and event from the start.
  for (const slot of [analytics, monitor, loader]) {
    await slot.start();
    cleanup.push(() => slot.stop());
  }
  return {
    nats,
    pg,
    redis,
    dbUrl: pg.url(DB),
    configDir,
    scratchDir,
    loader,
    monitor,
    analytics,
    pgSettings,
  };
}

/**
 * The analytics database. testkit's server runs with `synchronous_commit=off` (and fsync off) to
 * make tests fast; with it, a commit acknowledged by PostgreSQL can be lost by a kill -9 of the
 * server (the WAL buffer dies with it), which would show as lost rows that a real installation
 * (PostgreSQL's defaults, as scripts/stack.sh runs it) cannot lose. A database-level setting
 * beats the command line for every session, so the drill's database commits as the stack's does.
 * fsync=off stays (a server-wide setting): it only matters when the machine crashes, and a
 * process kill leaves the operating system's page cache intact.
 */
async function prepareDatabase(pg: PostgresServer): Promise<string[]> {
  await withClient(pg.url(), async (c) => {
    await c.query(`CREATE DATABASE ${DB}`);
    await c.query(`ALTER DATABASE ${DB} SET synchronous_commit = on`);
  });
  return withClient(pg.url(DB), async (c) => {
    const out: string[] = [];
    for (const name of ["synchronous_commit", "fsync", "full_page_writes"]) {
      const r = await c.query<Record<string, string>>(`SHOW ${name}`);
      out.push(`${name}=${Object.values(r.rows[0] ?? {})[0] ?? "?"}`);
    }
    return out;
  });
}
