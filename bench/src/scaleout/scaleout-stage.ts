import { Client } from "pg";
import type { SystemRole } from "@konorkestra/sdk/internal";
import { createTestTokens, startNats, startNatsCluster } from "@konorkestra/testkit";
import type { NatsServer, TestClientOptions } from "@konorkestra/testkit";
import type { CleanupStack } from "../cleanup-stack";
import { startAnalyticsProcess } from "../ingest/analytics-process";
import type { AnalyticsProcess } from "../ingest/analytics-process";
import { startDurablePostgres } from "../ingest/durable-postgres";
import type { DurablePostgres } from "../ingest/durable-postgres";
import { startMonitorProcess } from "../liveness/monitor-process";
import type { MonitorProcess } from "../liveness/monitor-process";

const DB = "konorkestra";

/** Every server and service of a scale-out run, running. */
export interface ScaleoutStage {
  readonly nats: readonly NatsServer[];
  readonly pg: DurablePostgres;
  readonly pgUrl: string;
  readonly pgVersion: string;
  readonly monitors: readonly MonitorProcess[];
  readonly analytics: readonly AnalyticsProcess[];
  /** Replicas of KON_HB, KON_EVENTS and the monitors' buckets (= servers). */
  readonly replicas: number;
  /** The test user's options with every server's URL (the bench's own connections). */
  clientOptions(): TestClientOptions;
  /** Headers of a `read` API token the monitors accept (their /metrics and nodes API). */
  readonly apiHeaders: Readonly<Record<string, string>>;
  /** Single-process pids (node, nats-server) by name; PostgreSQL is measured as a tree. */
  readonly pids: Readonly<Record<string, number>>;
}

/** What the stage is made of. */
export interface StageSpec {
  readonly servers: number;
  readonly monitors: number;
  readonly analytics: number;
  readonly log: (line: string) => void;
}

/** A service's least-privilege credential, reaching every server of the cluster. */
function serviceEnv(nats: readonly NatsServer[], role: SystemRole): Record<string, string> {
  return {
    ...nats[0]!.serviceEnv(role),
    KON_SERVERS: nats.map((s) => s.url).join(","),
    KON_REPLICAS: String(nats.length),
  };
}

async function startServers(count: number, cleanup: CleanupStack): Promise<NatsServer[]> {
  if (count === 1) {
    const one = await startNats();
    cleanup.push(() => one.stop());
    return [one];
  }
  const cluster = await startNatsCluster(count);
  cleanup.push(() => cluster.stop());
  return cluster.servers;
}

async function startDatabase(
  cleanup: CleanupStack,
): Promise<{ pg: DurablePostgres; version: string }> {
  const pg = await startDurablePostgres();
  cleanup.push(() => pg.stop());
  const c = new Client({ connectionString: pg.url() });
  await c.connect();
  try {
    await c.query(`CREATE DATABASE ${DB}`);
    const v = await c.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return { pg, version: v.rows[0]?.v ?? "?" };
  } finally {
    await c.end();
  }
}

/**
 * Starts the NATS cluster and PostgreSQL (with the local stack's durable settings), then the
 * first monitor and the first analytics process together (they create the streams with the
 * cluster's replicas, and analytics migrates the schema), then the others in parallel.
 * Monitors get the monitor role's nkey, analytics the analytics role's: as `make up` runs them.
 */
export async function startScaleoutStage(
  spec: StageSpec,
  cleanup: CleanupStack,
): Promise<ScaleoutStage> {
  const natsStart = startServers(spec.servers, cleanup);
  const dbStart = startDatabase(cleanup);
  await settleAll([natsStart, dbStart]);
  const [nats, db] = [await natsStart, await dbStart];
  spec.log(`  nats: ${nats.length} server(s) up; postgres ${db.version} up`);
  const pgUrl = db.pg.url(DB);
  // API tokens as in production: the monitors check them with the admin's public key.
  const tokens = createTestTokens();
  cleanup.push(() => Promise.resolve(tokens.remove()));
  const monitorEnv = (i: number): Record<string, string> => ({
    ...serviceEnv(nats, "monitor"),
    KON_LIVENESS_BACKEND: "nats",
    KON_AUTH_PUBLIC_KEY_FILE: tokens.publicKeyFile,
    KON_MONITOR_ID: `scaleout-${i}`,
  });
  const monitors: MonitorProcess[] = [];
  const analytics: AnalyticsProcess[] = [];
  const keep = <T extends { stop(): Promise<void> }>(list: T[], p: T): T => {
    list.push(p);
    cleanup.push(() => p.stop());
    return p;
  };
  // Stream creation tolerates a concurrent creator; the second ones wait for buckets and schema.
  await settleAll([
    startMonitorProcess(monitorEnv(1), 120_000).then((m) => keep(monitors, m)),
    startAnalyticsProcess(serviceEnv(nats, "analytics"), pgUrl).then((a) => keep(analytics, a)),
  ]);
  await settleAll([
    ...range(2, spec.monitors).map(async (i) =>
      keep(monitors, await startMonitorProcess(monitorEnv(i), 120_000)),
    ),
    ...range(2, spec.analytics).map(async () =>
      keep(analytics, await startAnalyticsProcess(serviceEnv(nats, "analytics"), pgUrl)),
    ),
  ]);
  spec.log(`  ${monitors.length} monitor(s), ${analytics.length} analytics process(es) up`);
  const pids: Record<string, number> = {};
  nats.forEach((s, i) => (pids[`nats-${i + 1}`] = s.pid));
  monitors.forEach((m, i) => (pids[`monitor-${i + 1}`] = m.pid));
  analytics.forEach((a, i) => (pids[`analytics-${i + 1}`] = a.pid));
  return {
    nats,
    pg: db.pg,
    pgUrl,
    pgVersion: db.version,
    monitors,
    analytics,
    replicas: nats.length,
    clientOptions: () => ({ ...nats[0]!.clientOptions(), servers: nats.map((s) => s.url) }),
    apiHeaders: tokens.header(["read"]),
    pids,
  };
}

/**
 * Waits for every start, then throws the first failure: a process still starting when another
 * failed must be on the cleanup stack before the stack is run, or it would outlive the run.
 */
async function settleAll(starts: Promise<unknown>[]): Promise<void> {
  const failed = (await Promise.allSettled(starts)).find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
}

/** from..to inclusive (empty when to < from). */
function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
