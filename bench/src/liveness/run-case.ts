import { readdirSync } from "node:fs";
import { getPriority, setPriority } from "node:os";
import type { CaseDriver, RowSpec } from "./case-driver";
import { DetectionTally } from "./detection-tally";
import type { DetectionSummary } from "./detection-tally";
import { localSimulator } from "./fleet-simulator";
import type { FleetSimulator } from "./fleet-simulator";
import type { SimulatorStats } from "./node-simulator";
import { residentMiB, UsageMeter } from "./process-usage";
import type { ProcessUsage } from "./process-usage";

/** The load of a row; the same for every row of a run. */
export interface CasePlan {
  readonly group: string;
  readonly nodeIds: readonly string[];
  /** Indexes into nodeIds of the nodes to stop. */
  readonly stopIndexes: readonly number[];
  readonly intervalMs: number;
  readonly ttlMs: number;
  readonly warmupMs: number;
  readonly upTimeoutMs: number;
  readonly missAfterMs: number;
  readonly tailMs: number;
  readonly maxSimLagMs: number;
  readonly tickMs: number;
  /** Nice value of this process while the row runs (0: unchanged); see BENCH_NICE. */
  readonly benchNice?: number;
  /** Progress lines. */
  readonly log: (line: string) => void;
}

/** Everything one row measured. */
export interface RowResult {
  readonly spec: RowSpec;
  readonly detection: DetectionSummary;
  /** Per process, from the moment all nodes were up until the end of the tail. */
  readonly usage: Readonly<Record<string, ProcessUsage>>;
  /** The simulator over the measured window (after every node was up). */
  readonly sim: SimulatorStats;
  /**
   * The simulator's share of a core in the window, and per beat (µs): its own process's CPU
   * when it has one (`usage.simulator`), else its ticks' CPU in this process.
   */
  readonly simCores: number;
  readonly simUsPerBeat: number;
  /** VmRSS of each process before the first beat, MiB (the monitor's includes the TypeScript
   * compiler that runs it from source). */
  readonly rssIdleMiB: Readonly<Record<string, number>>;
  /** How long after the first beat every node was seen up (NaN if never). */
  readonly allUpAfterS: number;
  /** Cores the whole machine was busy in the measured window (all processes, the others' too). */
  readonly machineCores: number;
  /** Auth-callout checks (node connections) in the measured window, when the row has a callout. */
  readonly calloutsInWindow?: number;
  /** How the row's services and nodes authenticate. */
  readonly auth?: string;
  /** The bench thread's priority during the row, as set (or why not). */
  readonly benchPriority: string;
  /** Beats sent that the server did not store (see {@link CaseDriver.lostBeats}). */
  readonly lostBeats: number;
  readonly notes: readonly string[];
  /** Why the row's figures cannot be trusted; empty when they can. */
  readonly problems: readonly string[];
  readonly durationS: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Waits until `done()` or the deadline; true when done. */
async function waitUntil(done: () => boolean, deadlineMs: number): Promise<boolean> {
  while (!done()) {
    if (Date.now() > deadlineMs) return false;
    await sleep(50);
  }
  return true;
}

/** What the phases of one row share. */
interface Row {
  readonly driver: CaseDriver;
  readonly plan: CasePlan;
  readonly sim: FleetSimulator;
  readonly tally: DetectionTally;
  readonly problems: string[];
  readonly t0: number;
}

/**
 * One row: every node beats for the warm-up and until the watched side has seen every node up;
 * then the chosen nodes stop at once; the server tells their deadlines; the others keep beating
 * until `tailMs` after the last deadline.
 */
export async function runCase(driver: CaseDriver, plan: CasePlan): Promise<RowResult> {
  const t0 = Date.now();
  const tally = new DetectionTally(t0);
  await driver.watch((node, atMs, ref) => tally.down(node, atMs, ref));
  const simOpts = {
    group: plan.group,
    nodeIds: plan.nodeIds,
    intervalMs: plan.intervalMs,
    allowedMisses: Math.round(plan.ttlMs / plan.intervalMs),
    tickMs: plan.tickMs,
  };
  const sim = driver.simulator
    ? await driver.simulator(simOpts)
    : localSimulator(driver.sink, simOpts);
  const row: Row = { driver, plan, sim, tally, problems: [], t0 };
  const rssIdleMiB: Record<string, number> = {};
  for (const [name, pid] of Object.entries(driver.processes)) {
    rssIdleMiB[name] = residentMiB(pid)?.rss ?? NaN;
  }
  const priority = raisePriority(plan.benchNice ?? 0, [process.pid, sim.pid]);
  try {
    await sim.start();
    const allUpAfterS = await warmUp(row);
    const meter = new UsageMeter({
      ...driver.processes,
      bench: process.pid,
      ...(sim.pid !== undefined ? { simulator: sim.pid } : {}),
    });
    meter.start();
    const callouts0 = driver.auth?.callouts();
    driver.startMeasuring?.();
    await sim.mark();
    await stopAndWait(row);
    // Counted before the simulator stops: then every node falls silent and goes down.
    const detection = tally.summary(plan.missAfterMs);
    const usage = meter.stop();
    const stats = await sim.stats();
    const callouts = driver.auth?.callouts();
    await sim.close();
    const lostBeats = await driver.lostBeats(sim.sent);
    const simProc = usage.simulator;
    if (stats.maxLatenessAllMs > plan.maxSimLagMs) {
      row.problems.push(
        `SIMULATOR FELL BEHIND: a beat went out ${Math.round(stats.maxLatenessAllMs)} ms late ` +
          `(limit ${plan.maxSimLagMs} ms); downs may be the simulator's fault, not the monitor's`,
      );
    }
    return {
      spec: driver.spec,
      detection,
      usage,
      rssIdleMiB,
      sim: stats,
      simCores: simProc ? simProc.cores : stats.cores,
      simUsPerBeat: simProc ? (simProc.cores / stats.beatsPerSec) * 1e6 : stats.cpuUsPerBeat,
      machineCores: meter.machineCores,
      benchPriority: priority.how,
      ...(driver.auth
        ? { auth: driver.auth.how, calloutsInWindow: (callouts ?? 0) - (callouts0 ?? 0) }
        : {}),
      allUpAfterS,
      lostBeats,
      notes: driver.notes(),
      problems: row.problems,
      durationS: (Date.now() - t0) / 1000,
    };
  } finally {
    await sim.close().catch(() => undefined);
    priority.restore();
  }
}

/**
 * Sets the nice value of every thread of this process (Linux keeps one per thread: the main
 * thread runs the simulator and the observer, the others V8's GC and libuv's pool, which the
 * main thread may wait for), and puts them back afterwards, before the next row starts its
 * servers (a child inherits the nice value of the thread that forks it).
 */
function raisePriority(
  nice: number,
  pids: readonly (number | undefined)[],
): { how: string; restore(): void } {
  if (nice === 0) return { how: "bench at its usual priority", restore: () => undefined };
  const before = new Map<number, number>();
  try {
    for (const tid of pids.flatMap((p) => (p === undefined ? [] : threadIds(p)))) {
      before.set(tid, getPriority(tid));
      setPriority(tid, nice);
    }
  } catch (err) {
    for (const [tid, p] of before) setPriority(tid, p);
    return {
      how: `bench NOT reniced to ${nice} (${(err as Error).message})`,
      restore: () => undefined,
    };
  }
  return {
    how:
      `bench and simulator processes (${before.size} threads) at nice ${nice} during the row ` +
      `(the processes under test at 0)`,
    restore: () => {
      for (const [tid, p] of before) {
        try {
          setPriority(tid, p);
        } catch {
          // A thread that ended meanwhile.
        }
      }
    },
  };
}

/** A process's thread ids (Linux), the main thread's first. */
function threadIds(pid: number): number[] {
  try {
    const tids = readdirSync(`/proc/${pid}/task`).map(Number);
    return [pid, ...tids.filter((t) => t !== pid)];
  } catch {
    return [pid];
  }
}

/** Beats until every node was seen up and the warm-up has passed; when all were up (s). */
async function warmUp({ driver, plan, problems, t0 }: Row): Promise<number> {
  const n = plan.nodeIds.length;
  const allUp = await waitUntil(() => driver.upCount() >= n, t0 + plan.upTimeoutMs);
  const allUpAfterS = allUp ? (Date.now() - t0) / 1000 : NaN;
  if (!allUp) problems.push(`only ${driver.upCount()} of ${n} nodes seen up`);
  await sleep(t0 + plan.warmupMs - Date.now());
  await untilReady(driver, plan, problems);
  plan.log(
    `  warm-up: ${driver.upCount()} of ${n} up after ${allUpAfterS.toFixed(1)} s, ` +
      `beating ${((Date.now() - t0) / 1000).toFixed(1)} s; stopping ${plan.stopIndexes.length}`,
  );
  return allUpAfterS;
}

/**
 * Waits until the driver has been ready for a second in a row (at most `upTimeoutMs`): a stop
 * while the monitors are behind measures their backlog, not their detection.
 */
async function untilReady(driver: CaseDriver, plan: CasePlan, problems: string[]): Promise<void> {
  if (!driver.notReady) return;
  const since = Date.now();
  let readyAt: number | undefined;
  let why: string | undefined;
  while (readyAt === undefined || Date.now() - readyAt < 1000) {
    if (Date.now() - since > plan.upTimeoutMs) {
      problems.push(`stopped while not ready after ${plan.upTimeoutMs / 1000} s: ${why}`);
      return;
    }
    why = await driver.notReady().catch((err: unknown) => `readiness check failed: ${String(err)}`);
    readyAt = why === undefined ? (readyAt ?? Date.now()) : undefined;
    await sleep(200);
  }
  plan.log(`  ready to stop after ${((Date.now() - since) / 1000).toFixed(1)} s more`);
}

/** Stops the chosen nodes, asks the server for their deadlines, waits out the tail. */
async function stopAndWait({ driver, plan, sim, tally, problems, t0 }: Row): Promise<void> {
  const stoppedAt = Date.now();
  await sim.stop(plan.stopIndexes);
  const stopped = plan.stopIndexes.map((i) => plan.nodeIds[i]!);
  for (const node of stopped) tally.stop(node, stoppedAt);
  // Beats already sent land within milliseconds; every key still lives for ≥ TTL − interval.
  await sleep(300);
  const deadlines = await driver.deadlines(stopped, plan.ttlMs);
  for (const [node, d] of deadlines) tally.setDeadline(node, d.deadlineMs, d.ref);
  if (deadlines.size < stopped.length) {
    problems.push(`no server deadline for ${stopped.length - deadlines.size} stopped nodes`);
  }
  const last = tally.deadlines().reduce((a, b) => Math.max(a, b), stoppedAt + plan.ttlMs);
  plan.log(
    `  stopped at +${((stoppedAt - t0) / 1000).toFixed(1)} s; last deadline in ` +
      `${((last - Date.now()) / 1000).toFixed(1)} s; the others beat ${plan.tailMs / 1000} s longer`,
  );
  await sleep(last + plan.tailMs - Date.now());
}
