// bench:ingest — heartbeats/s sustained into TimescaleDB by one analytics process, lag from
// publish to row visible, and API p99, against a COPY ceiling, in one run.
// `npm run bench:ingest -- --help`.
import { loadavg } from "node:os";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Client } from "pg";
import { KonError } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import { startAnalyticsProcess } from "./analytics-process";
import type { AnalyticsProcess } from "./analytics-process";
import { BenchFleet } from "./bench-fleet";
import { measureCopyCeiling } from "./copy-ceiling";
import { FLOOR_MODES, measureDrainFloor } from "./drain-floor";
import type { DrainFloor } from "./drain-floor";
import { startDurablePostgres } from "./durable-postgres";
import type { DurablePostgres } from "./durable-postgres";
import {
  STATIC_FLOOR_PATH,
  runApi,
  runBurst,
  runDrain,
  runSteady,
  runSteadyUnderCrowd,
} from "./ingest-phases";
import type { PhaseContext } from "./ingest-phases";
import { parseIngestOptions, USAGE } from "./ingest-options";
import type { IngestOptions } from "./ingest-options";
import {
  formatCpu,
  formatLatencies,
  formatRatios,
  formatTargets,
  formatThroughput,
  resultJson,
} from "./ingest-report";
import type { IngestResults } from "./ingest-report";
import { LagProbe } from "./lag-probe";
import { memoryMiB } from "./process-cpu";
import { publishSeedEvents } from "./seed-events";
import { benchOptions, repeatCase } from "../bench-flags";
import { formatIngestRepeats, ingestRepeatJson } from "./ingest-repeat";
import { CleanupStack } from "../cleanup-stack";

const out = (line = ""): void => void process.stdout.write(line + "\n");
const step = (what: string): void => out(`... ${what}`);
const DB = "konorkestra";
const PG_SETTINGS = [
  "fsync",
  "synchronous_commit",
  "full_page_writes",
  "wal_level",
  "shared_buffers",
  "max_wal_size",
  "checkpoint_timeout",
];

interface Stage {
  nats: NatsServer;
  pg: DurablePostgres;
  /** The ingesting process (KON_ANALYTICS_ROLES=ingest with `--analytics split`, else both). */
  analytics: AnalyticsProcess;
  /** With `--analytics split`: the API-only process the crowd and the API phase ask. */
  api?: AnalyticsProcess;
  pgSettings: Record<string, string>;
  pgVersion: string;
}

async function sql<T>(url: string, text: string): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as T[];
  } finally {
    await c.end();
  }
}

/** Settings of the ingesting analytics process (`--analytics split`: ingest only). */
function ingestEnv(o: IngestOptions): Record<string, string> {
  return o.analytics === "split" ? { KON_ANALYTICS_ROLES: "ingest" } : {};
}

async function setUp(o: IngestOptions, cleanup: CleanupStack): Promise<Stage> {
  const nats = await startNats();
  cleanup.push(() => nats.stop());
  const pg = await startDurablePostgres();
  cleanup.push(() => pg.stop());
  await sql(pg.url(), `CREATE DATABASE ${DB}`);
  // A database-level setting: it reaches every analytics connection, not the server.
  if (o.synchronousCommit === "off") {
    await sql(pg.url(), `ALTER DATABASE ${DB} SET synchronous_commit = off`);
  }
  const analytics = await startAnalyticsProcess(
    nats.serviceEnv("analytics"),
    pg.url(DB),
    ingestEnv(o),
  );
  const stage: Stage = { nats, pg, analytics, pgSettings: {}, pgVersion: "?" };
  // The drain phase replaces the process: stop whichever runs at the end.
  cleanup.push(() => stage.analytics.stop());
  if (o.analytics === "split") {
    const api = await startAnalyticsProcess(nats.serviceEnv("analytics"), pg.url(DB), {
      KON_ANALYTICS_ROLES: "api",
    });
    stage.api = api;
    cleanup.push(() => api.stop());
  }
  for (const name of PG_SETTINGS) {
    const [row] = await sql<Record<string, string>>(pg.url(DB), `SHOW ${name}`);
    stage.pgSettings[name] = Object.values(row ?? {})[0] ?? "?";
  }
  const [v] = await sql<{ v: string }>(
    pg.url(DB),
    "SELECT current_setting('server_version') || ' + timescaledb ' || " +
      "(SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS v",
  );
  stage.pgVersion = v?.v ?? "?";
  return stage;
}

function printHeader(o: IngestOptions, s: Stage, natsVersion: string): IngestResults["machine"] {
  const machine = collectMachineInfo({ "nats-server": natsVersion, postgresql: s.pgVersion });
  const cmd = commandLine();
  out(
    "bench:ingest — heartbeats -> NATS (KON_HB) -> one analytics process -> TimescaleDB; API p99",
  );
  out(`command: ${cmd.npm ?? cmd.node}`);
  if (cmd.npm) out(`         (${cmd.node})`);
  for (const line of formatMachineInfo(machine)) out(line);
  const settings = Object.entries(s.pgSettings).map(([k, v]) => `${k}=${v}`);
  out(`postgres: ${settings.join(" ")} (scripts/stack.sh settings: PostgreSQL defaults)`);
  const kon = Object.entries(process.env).filter(([k]) =>
    /^KON_(INGEST|PG_POOL|NODE_STATE|API)/.test(k),
  );
  out(
    `analytics: analytics/src/main.ts as its own process (pid ${s.analytics.pid}` +
      (s.api
        ? `, KON_ANALYTICS_ROLES=ingest; API: pid ${s.api.pid}, KON_ANALYTICS_ROLES=api`
        : "") +
      `); options: ${kon.length ? kon.map(([k, v]) => `${k}=${v}`).join(" ") : "defaults"}`,
  );
  out(
    `setup:   ${o.nodes} nodes; ${o.rows} heartbeats (SDK-shaped, ~330 B protobuf) published with ` +
      `core NATS (as the SDK does), flush every ${o.flushEvery}; 1 in ${o.probeEvery} is a lag probe; then ${o.steadyRate}/s for ` +
      `${o.steadySeconds} s; ${o.apiRequests} requests per API endpoint`,
  );
  out(
    "note:    publisher, nats-server, PostgreSQL and analytics share this machine's cores; lag = " +
      "publish -> probe row seen by a 10 ms poller (upper bound); the crowd phase's API clients " +
      "run in a child process of their own (not on the publisher's and the probe's event loop)",
  );
  return machine;
}

async function waitEvents(url: string, expected: number): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const [row] = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM node_events");
    if ((row?.n ?? 0) >= expected) return;
    if (Date.now() > deadline) throw new Error(`only ${row?.n} of ${expected} events stored`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

type Measured = Omit<IngestResults, "command" | "machine" | "durationS" | "loadAtEnd">;

/** What every run of the phases shares: the publisher, the fleet, the lag probe. */
interface Session {
  readonly ctx: PhaseContext;
  readonly fleet: BenchFleet;
  /** Heartbeats published by the runs so far (the table must hold exactly these). */
  published: number;
}

/** Connects the publisher and seeds the events behind /v1/nodes and the uptime query. */
async function openSession(o: IngestOptions, s: Stage, cleanup: CleanupStack): Promise<Session> {
  const url = s.pg.url(DB);
  const nc = await connect({ ...s.nats.clientOptions(), name: "bench-ingest-publisher" });
  cleanup.push(() => nc.close());
  const fleet = new BenchFleet(o.nodes);
  step(
    `seeding: an up event for each of ${o.nodes} nodes, ${o.uptimeEvents} state changes over 30 days`,
  );
  await waitEvents(url, await publishSeedEvents(jetstream(nc), o.nodes, o.uptimeEvents));
  const probe = await LagProbe.open(url);
  cleanup.push(() => probe.close());
  probe.start();
  const ctx: PhaseContext = {
    target: { nc, jsm: await jetstreamManager(nc), stream: "KON_HB" },
    fleet,
    probe,
    analytics: s.analytics,
    rowsBefore: await s.analytics.heartbeatRows(),
    seqBase: 0,
    cpuSources: () => ({
      analytics: ctx.analytics.pid,
      ...(s.api ? { "analytics-api": s.api.pid } : {}),
      postgres: s.pg.pid,
      "nats-server": s.nats.pid,
      publisher: process.pid,
    }),
  };
  return { ctx, fleet, published: 0 };
}

/** One run of every phase: ceiling, burst, drain, steady, steady under an API crowd, API. */
async function measure(o: IngestOptions, s: Stage, session: Session): Promise<Measured> {
  const url = s.pg.url(DB);
  const { ctx, fleet } = session;
  let ceiling;
  if (!o.skipCeiling) {
    step(`ceiling: COPY of ${o.rows} rows into a hypertable shaped like heartbeats`);
    ceiling = await measureCopyCeiling(url, fleet, o.rows);
  }
  const flushEvery = o.flushEvery;
  step(`burst: ${o.rows} heartbeats as fast as one publisher goes`);
  const burst = await runBurst(ctx, { rows: o.rows, flushEvery, probeEvery: o.probeEvery });
  let drain;
  if (!o.skipDrain) {
    step(
      `drain: analytics stopped, ${o.drainRows} heartbeats published, a new process drains them`,
    );
    const restart = (): Promise<AnalyticsProcess> =>
      startAnalyticsProcess(s.nats.serviceEnv("analytics"), url, ingestEnv(o));
    drain = await runDrain(ctx, restart, {
      rows: o.drainRows,
      flushEvery,
      onMeasuring: (pid) => step(`drain: new analytics process up (pid ${pid}), measuring`),
    });
    s.analytics = ctx.analytics;
  }
  let drainFloors: DrainFloor[] | undefined;
  if (drain && !o.skipFloors) {
    drainFloors = [];
    for (const mode of FLOOR_MODES) {
      step(
        `drain floor '${mode}': the same ${drain.published} heartbeats read again (no rows written)`,
      );
      drainFloors.push(
        await measureDrainFloor(
          mode,
          { ...s.nats.serviceEnv("analytics"), KON_PG_URL: url },
          { postgres: s.pg.pid, "nats-server": s.nats.pid },
          drain.firstSeq,
          drain.published,
        ),
      );
    }
  }
  const steadyPlan = {
    rate: o.steadyRate,
    seconds: o.steadySeconds,
    flushEvery,
    probeEvery: o.probeEvery,
  };
  step(`steady: ${o.steadyRate} heartbeats/s for ${o.steadySeconds} s`);
  const steady = await runSteady(ctx, steadyPlan);
  const apiProcess = s.api ?? s.analytics;
  step(
    `steady again, while ${o.apiClients} clients (a child process) ask fresh pages of /v1/nodes` +
      (s.api ? ` of the API-only analytics (pid ${s.api.pid})` : ""),
  );
  const underCrowd = await runSteadyUnderCrowd(
    ctx,
    { ...steadyPlan, clients: o.apiClients },
    apiProcess.url,
  );
  step(
    `steady again, while the same ${o.apiClients} clients ask a small static file (the crowd's floor)`,
  );
  const underFloorCrowd = await runSteadyUnderCrowd(
    ctx,
    { ...steadyPlan, clients: o.apiClients },
    apiProcess.url,
    STATIC_FLOOR_PATH,
  );
  session.published +=
    burst.rows +
    (drain?.published ?? 0) +
    steady.rows +
    underCrowd.steady.rows +
    underFloorCrowd.steady.rows;
  const [count] = await sql<{ n: number }>(url, "SELECT count(*)::int AS n FROM heartbeats");
  step(
    `API: ${o.pageRequests} x a page (cached, then fresh), ${o.apiRequests} x GET /v1/nodes ` +
      `(cached, then fresh), ${o.apiRequests} x uptime`,
  );
  const api = await runApi(apiProcess, o.apiRequests, o.uptimeEvents, o.pageRequests);
  return {
    pgSettings: s.pgSettings,
    analyticsEnv: s.analytics.env,
    nodes: o.nodes,
    ceiling,
    burst,
    drain,
    drainFloors,
    steady,
    steadyUnderCrowd: underCrowd.steady,
    crowd: { ...underCrowd.crowd, analytics: o.analytics },
    crowdFloor: underFloorCrowd.crowd,
    ...api,
    analyticsMemMiB: memoryMiB(s.analytics.pid),
    rowsInTable: count?.n ?? 0,
    rowsPublished: session.published,
  };
}

function printResults(r: IngestResults): void {
  out();
  out("throughput (same rows, side by side):");
  for (const line of formatThroughput(r)) out("  " + line);
  out("ratios (> 1: the ingest is faster):");
  for (const line of formatRatios(r)) out(line);
  out("latency:");
  for (const line of formatLatencies(r)) out(line);
  out("resources:");
  for (const line of formatCpu(r)) out(line);
  const lost = r.rowsPublished - r.rowsInTable;
  out(
    `rows:    ${r.rowsInTable} in heartbeats, ${r.rowsPublished} published` +
      (lost === 0 ? " (none lost, no duplicates)" : ` (DIFFERENCE ${-lost})`),
  );
  const dropped = r.burst.dropped + r.steady.dropped + (r.steadyUnderCrowd?.dropped ?? 0);
  if (dropped > 0) out(`WARNING: the stream did not store ${dropped} published messages`);
  out("targets:");
  for (const line of formatTargets(r)) out(line);
  out(`load:    ${r.loadAtEnd} (1 min, at the end); run took ${Math.round(r.durationS)} s`);
  out(resultJson(r));
}

async function main(): Promise<number> {
  const o = benchOptions(parseIngestOptions, USAGE);
  if (typeof o === "number") return o;
  const t0 = performance.now();
  const cleanup = new CleanupStack();
  cleanup.runOnSignals();
  let stage: Stage | undefined;
  try {
    stage = await setUp(o, cleanup);
    const probeNc = await connect(stage.nats.clientOptions());
    const natsVersion = probeNc.info?.version ?? "?";
    await probeNc.close();
    const machine = printHeader(o, stage, natsVersion);
    const session = await openSession(o, stage, cleanup);
    const st = stage;
    const runs = await repeatCase(
      o.repeat,
      async () => {
        const tRun = performance.now();
        const measured = await measure(o, st, session);
        const loadAtEnd = Math.round((loadavg()[0] ?? 0) * 100) / 100;
        const durationS = (performance.now() - tRun) / 1000;
        return { ...measured, machine, command: commandLine(), durationS, loadAtEnd };
      },
      (r, i) => {
        if (o.repeat > 1) out(`\n=== run ${i + 1} of ${o.repeat}`);
        printResults(r);
      },
    );
    await cleanup.run();
    if (o.repeat > 1) {
      out();
      out(`over ${o.repeat} runs (worst / median; targets judged on the worst run):`);
      for (const line of formatIngestRepeats(runs)) out(line);
      out(`total time ${Math.round((performance.now() - t0) / 1000)} s`);
      out(ingestRepeatJson(runs));
    }
    return 0;
  } catch (err) {
    const text = err instanceof KonError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`bench:ingest failed: ${text}\n`);
    if (stage)
      process.stderr.write(`analytics output (tail):\n${stage.analytics.output().slice(-3000)}\n`);
    return 1;
  } finally {
    await cleanup.run();
  }
}

void main().then((code) => process.exit(code));
