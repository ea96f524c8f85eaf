import type { AnalyticsProcess } from "./analytics-process";
import { measureApi } from "./api-latency";
import { BENCH_GROUP } from "./bench-fleet";
import { startCrowdProcess } from "./crowd-process";
import type { BenchFleet } from "./bench-fleet";
import { publishBurst, publishSteady } from "./heartbeat-publisher";
import type { PublishOutcome, PublishTarget } from "./heartbeat-publisher";
import type { DrainPhase, IngestPhase, IngestResults } from "./ingest-report";
import type { LagProbe } from "./lag-probe";
import { percentiles } from "./percentiles";
import type { Percentiles } from "./percentiles";
import { measureCpu } from "./process-cpu";
import type { CpuSources } from "./process-cpu";
import { UPTIME_NODE } from "./seed-events";

/** What the phases share. */
export interface PhaseContext {
  readonly target: PublishTarget;
  readonly fleet: BenchFleet;
  readonly probe: LagProbe;
  /** The analytics process of the moment (the drain phase starts a new one). */
  analytics: AnalyticsProcess;
  /** Processes whose CPU is measured, by name. */
  cpuSources(): CpuSources;
  /** Heartbeat rows committed before the phase (the current process's counter). */
  rowsBefore: number;
  /** Heartbeat seq the next phase starts after, so every node's seq keeps growing. */
  seqBase: number;
}

const POLL_MS = 50;

/** Polls the ingester's committed-rows counter until it reaches `target`; returns when it did. */
async function waitCommitted(
  a: AnalyticsProcess,
  target: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await a.heartbeatRows();
    if (rows >= target) return Date.now();
    if (Date.now() > deadline) {
      throw new Error(`only ${rows} of ${target} heartbeat rows committed after ${timeoutMs} ms`);
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

async function finishPhase(
  ctx: PhaseContext,
  pub: PublishOutcome,
  stopCpu: () => IngestPhase["cpu"],
): Promise<IngestPhase> {
  const target = ctx.rowsBefore + pub.published;
  const doneAt = await waitCommitted(ctx.analytics, target, 600_000);
  const cpu = stopCpu();
  ctx.rowsBefore = target;
  ctx.seqBase += Math.ceil(pub.published / ctx.fleet.nodes) + 1;
  await ctx.probe.settle(10_000);
  const seconds = (doneAt - pub.firstAtMs) / 1000;
  return {
    rows: pub.published,
    seconds,
    rowsPerSec: pub.published / seconds,
    publishPerSec: (pub.published + pub.dropped) / ((pub.lastFlushAtMs - pub.firstAtMs) / 1000),
    dropped: pub.dropped,
    lag: percentiles(ctx.probe.take()),
    cpu,
  };
}

/** Throughput: `rows` heartbeats as fast as one publisher goes; first publish → last commit. */
export async function runBurst(
  ctx: PhaseContext,
  o: { rows: number; flushEvery: number; probeEvery: number },
): Promise<IngestPhase> {
  const stopCpu = measureCpu(ctx.cpuSources());
  const pub = await publishBurst(ctx.target, ctx.fleet, ctx.probe, {
    count: o.rows,
    seqBase: ctx.seqBase,
    flushEvery: o.flushEvery,
    probeEvery: o.probeEvery,
  });
  return finishPhase(ctx, pub, stopCpu);
}

/**
 * The analytics process alone: it is stopped, `rows` heartbeats are published into the stream,
 * and a new process drains the backlog. Measured from its first counter reading after it is up
 * to the last commit, so start-up is not counted; nothing else runs meanwhile.
 */
export async function runDrain(
  ctx: PhaseContext,
  restart: () => Promise<AnalyticsProcess>,
  o: { rows: number; flushEvery: number; onMeasuring?: (pid: number) => void },
): Promise<DrainPhase> {
  await ctx.analytics.stop();
  // The backlog's first stream sequence: the drain floors read the same messages again.
  const firstSeq = (await ctx.target.jsm.streams.info(ctx.target.stream)).state.last_seq + 1;
  const pub = await publishBurst(ctx.target, ctx.fleet, ctx.probe, {
    count: o.rows,
    seqBase: ctx.seqBase,
    flushEvery: o.flushEvery,
    probeEvery: Infinity,
  });
  ctx.seqBase += Math.ceil(pub.published / ctx.fleet.nodes) + 1;
  ctx.analytics = await restart();
  o.onMeasuring?.(ctx.analytics.pid);
  const stopCpu = measureCpu(ctx.cpuSources());
  const t1 = Date.now();
  const r1 = await ctx.analytics.heartbeatRows();
  const doneAt = await waitCommitted(ctx.analytics, pub.published, 600_000);
  const cpu = stopCpu();
  ctx.rowsBefore = pub.published;
  const seconds = (doneAt - t1) / 1000;
  return {
    published: pub.published,
    firstSeq,
    rows: pub.published - r1,
    seconds,
    rowsPerSec: (pub.published - r1) / seconds,
    cpu,
  };
}

/** Lag at a steady load below capacity (a fleet beating at a fixed rate). */
export async function runSteady(
  ctx: PhaseContext,
  o: { rate: number; seconds: number; flushEvery: number; probeEvery: number },
): Promise<IngestPhase & { rate: number }> {
  const stopCpu = measureCpu(ctx.cpuSources());
  const pub = await publishSteady(ctx.target, ctx.fleet, ctx.probe, {
    ...o,
    seqBase: ctx.seqBase,
  });
  return { ...(await finishPhase(ctx, pub, stopCpu)), rate: o.rate };
}

/** The page a dashboard asks for (issue 14: p99 <= 10 ms). */
export const PAGE_PATH = "/v1/nodes?limit=100";

/**
 * A small static file of the dashboard (express, no database, no JSON): the HTTP floor of a crowd
 * measurement, asked by the same crowd on the same process under the same load.
 */
export const STATIC_FLOOR_PATH = "/style.css";

/**
 * The steady phase again while `clients` clients ask fresh pages of /v1/nodes in rounds. The
 * crowd runs in a child process of its own: in the bench's process, its event-loop delay was
 * counted in the lag (the probe polls every 10 ms on the loop the publisher uses). `apiUrl`: the
 * analytics process the crowd asks (an API-only one when analytics runs split), else ctx's.
 * `path`: what the crowd asks (fresh pages; {@link STATIC_FLOOR_PATH} for the floor).
 */
export async function runSteadyUnderCrowd(
  ctx: PhaseContext,
  o: { rate: number; seconds: number; flushEvery: number; probeEvery: number; clients: number },
  apiUrl = ctx.analytics.url,
  path = PAGE_PATH,
): Promise<{
  steady: IngestPhase & { rate: number };
  crowd: Percentiles & { clients: number; rounds: number; process: "child"; cores: number };
}> {
  const crowd = startCrowdProcess(apiUrl, path, o.clients, { "Cache-Control": "no-cache" });
  const stopCpu = measureCpu(ctx.cpuSources());
  const pub = await publishSteady(ctx.target, ctx.fleet, ctx.probe, {
    ...o,
    seqBase: ctx.seqBase,
  }).catch(async (err: unknown) => {
    await crowd.finish().catch(() => undefined);
    throw err;
  });
  const outcome = await crowd.finish();
  const steady = { ...(await finishPhase(ctx, pub, stopCpu)), rate: o.rate };
  return {
    steady,
    crowd: {
      ...percentiles(outcome.latencies),
      clients: o.clients,
      rounds: outcome.rounds,
      process: "child",
      cores: Math.round((outcome.cpuSeconds / Math.max(outcome.wallSeconds, 1e-3)) * 100) / 100,
    },
  };
}

/**
 * API p99: /v1/nodes over the whole fleet as served (its 1 s cache) and fresh
 * (`Cache-Control: no-cache`), and a 30-day uptime over many state changes.
 */
export async function runApi(
  a: AnalyticsProcess,
  requests: number,
  uptimeEvents: number,
  pageRequests = requests,
): Promise<
  Pick<IngestResults, "apiNodes" | "apiNodesFresh" | "apiUptime" | "apiPage" | "apiPageFresh">
> {
  const noCache = { "Cache-Control": "no-cache" };
  const page = await measureApi(a.url, PAGE_PATH, pageRequests);
  const pageFresh = await measureApi(a.url, PAGE_PATH, pageRequests, noCache);
  const nodes = await measureApi(a.url, "/v1/nodes", requests);
  const fresh = await measureApi(a.url, "/v1/nodes", requests, { "Cache-Control": "no-cache" });
  const nodeCount = (fresh.body as { nodes?: unknown[] }).nodes?.length ?? 0;
  const uptime = await measureApi(
    a.url,
    `/v1/nodes/${BENCH_GROUP}/${UPTIME_NODE}/uptime?window=30d`,
    requests,
  );
  const u = uptime.body as { uptimePct?: number | null; observedMs?: number };
  if (!u.observedMs) throw new Error(`uptime query measured nothing: ${JSON.stringify(u)}`);
  const pageNodes = (pageFresh.body as { nodes?: unknown[] }).nodes?.length ?? 0;
  return {
    apiPage: { ...percentiles(page.latencies), nodes: pageNodes, bytes: page.bytes },
    apiPageFresh: { ...percentiles(pageFresh.latencies), nodes: pageNodes, bytes: pageFresh.bytes },
    apiNodes: { ...percentiles(nodes.latencies), nodes: nodeCount, bytes: nodes.bytes },
    apiNodesFresh: { ...percentiles(fresh.latencies), nodes: nodeCount, bytes: fresh.bytes },
    apiUptime: {
      ...percentiles(uptime.latencies),
      events: uptimeEvents,
      uptimePct: u.uptimePct ?? null,
    },
  };
}
