// bench:liveness — heartbeat stop -> node.down: the liveness monitor (NATS and Redis backends,
// each a real separate process) against raw NATS expiry markers and raw Redis keyspace events,
// on the same simulated fleet, in one run. `npm run bench:liveness -- --help`.
import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { KonError } from "@konorkestra/sdk";
import { loadStackEnv } from "@konorkestra/testkit";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import type { MachineInfo } from "../machine-info";
import type { CaseDriver, RowKey } from "./case-driver";
import {
  formatCoreShares,
  formatDefinitions,
  formatRatios,
  formatRowNotes,
  formatTable,
  formatTargets,
  resultJson,
} from "./liveness-report";
import { INTERVAL_MS, parseLivenessOptions, rowsFor, USAGE } from "./liveness-options";
import type { LivenessOptions } from "./liveness-options";
import { startMonitorCase } from "./monitor-case";
import { startRawNatsCase } from "./raw-nats-case";
import { startRawRedisCase } from "./raw-redis-case";
import { runCase } from "./run-case";
import type { CasePlan, RowResult } from "./run-case";
import { pickStopped } from "./pick-stopped";
import { benchOptions, repeatCase } from "../bench-flags";
import { formatRepeatSummary, repeatJson } from "./liveness-repeat";
import { measureSdkBeatCost } from "./sdk-beat-cost";
import { measureSimulatorBeatCost } from "./simulator-beat-cost";

const out = (line = ""): void => void process.stdout.write(line + "\n");
const GROUP = "bench";

function startDriver(key: RowKey, o: LivenessOptions): Promise<CaseDriver> {
  switch (key) {
    case "nats":
    case "redis":
      return startMonitorCase(key, GROUP, o.cpuProfDir, o.monitors);
    case "raw_nats":
      return startRawNatsCase(o.ttlS, o.rawNatsPublish);
    case "raw_redis":
      return startRawRedisCase(o.ttlS * 1000);
  }
}

function plan(o: LivenessOptions): CasePlan {
  const width = String(o.nodes - 1).length;
  return {
    group: GROUP,
    nodeIds: Array.from({ length: o.nodes }, (_, i) => `n${String(i).padStart(width, "0")}`),
    stopIndexes: pickStopped(o.nodes, o.stop, o.seed),
    intervalMs: INTERVAL_MS,
    ttlMs: o.ttlS * 1000,
    warmupMs: o.warmupS * 1000,
    upTimeoutMs: Math.max(o.warmupS, o.upTimeoutS) * 1000,
    missAfterMs: o.missAfterS * 1000,
    tailMs: o.tailS * 1000,
    maxSimLagMs: o.maxSimLagMs,
    tickMs: o.tickMs,
    benchNice: o.benchNice,
    log: out,
  };
}

function printHeader(o: LivenessOptions, rows: RowKey[]): MachineInfo {
  const versions = loadStackEnv().versions;
  const machine = collectMachineInfo({ "nats-server": versions.nats, redis: versions.redis });
  const cmd = commandLine();
  out("bench:liveness — heartbeat stop -> node.down, monitor vs raw TTL expiry, same load");
  out(`command: ${cmd.npm ?? cmd.node}`);
  if (cmd.npm) out(`         (${cmd.node})`);
  for (const line of formatMachineInfo(machine)) out(line);
  out(
    `fleet:   ${o.nodes} nodes beating at 1 Hz (protobuf Heartbeat byte for byte as the SDK builds ` +
      `it, encoded once per node and patched per beat, seq +1, intervalMs ${INTERVAL_MS}, ` +
      `allowedMisses ${o.ttlS}, spread evenly over each second, one ${o.tickMs} ms timer; monitor ` +
      `rows: in a process of its own, on one TLS connection joined with the group's join key ` +
      `through the auth callout, the beats of a tick in one write), TTL ${o.ttlS} s; after >= ${o.warmupS} s and every node seen up, ` +
      `${o.stop} nodes (seed ${o.seed}, the same in every row) stop at once; the others beat ` +
      `${o.tailS} s past the last deadline`,
  );
  out(`rows:    ${rows.join(", ")} (each on fresh servers, one after another)`);
  for (const line of formatDefinitions(o.ttlS, o.missAfterS)) out(line);
  return machine;
}

function printResults(o: LivenessOptions, rows: readonly RowResult[], cores: number): void {
  out();
  out("detection delay after the deadline, and cost:");
  for (const line of formatTable(rows)) out("  " + line);
  out();
  for (const line of formatRowNotes(rows)) out(line);
  for (const line of formatCoreShares(rows, cores)) out(line);
  const ratios = formatRatios(rows);
  if (ratios.length > 0) {
    out("ratios (baseline / monitor, > 1 means the monitor detects sooner):");
    for (const line of ratios) out(line);
  }
  out(`targets (issue 14, 2-core machine, ${o.nodes} nodes):`);
  for (const line of formatTargets(rows, o.nodes)) out(line);
}

async function measure(
  o: LivenessOptions,
  keys: RowKey[],
  current: { driver?: CaseDriver },
): Promise<{ rows: RowResult[]; servers: Record<string, string> }> {
  const p = plan(o);
  const rows: RowResult[] = [];
  const servers: Record<string, string> = {};
  for (const key of keys) {
    out(`... ${key}: starting servers${key === "nats" || key === "redis" ? " and monitor" : ""}`);
    const driver = await startDriver(key, o);
    current.driver = driver;
    try {
      Object.assign(servers, driver.versions);
      rows.push(await runCase(driver, p));
    } finally {
      await driver.close();
      current.driver = undefined;
    }
    const d = rows[rows.length - 1]!.detection;
    out(
      `  -> p50 ${d.delay.p50.toFixed(1)} ms, p99 ${d.delay.p99.toFixed(1)} ms, ` +
        `missed ${d.missed}, false positives ${d.falsePositives}`,
    );
  }
  return { rows, servers };
}

/** Every row once per run, `o.repeat` runs in sequence; each run has its own ratio. */
async function measureRepeated(
  o: LivenessOptions,
  keys: RowKey[],
  current: { driver?: CaseDriver },
): Promise<{ runs: RowResult[][]; servers: Record<string, string> }> {
  const servers: Record<string, string> = {};
  const runs = await repeatCase(o.repeat, async (i) => {
    if (o.repeat > 1) out(`=== run ${i + 1} of ${o.repeat}`);
    const r = await measure(o, keys, current);
    Object.assign(servers, r.servers);
    return r.rows;
  });
  return { runs, servers };
}

async function main(): Promise<number> {
  const o = benchOptions(parseLivenessOptions, USAGE);
  if (typeof o === "number") return o;
  const t0 = performance.now();
  const keys = rowsFor(o);
  const current: { driver?: CaseDriver } = {};
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    process.stderr.write(`bench:liveness: ${signal}, stopping the monitor and the servers\n`);
    void (current.driver?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    const machine = printHeader(o, keys);
    const sdk = await measureSdkBeatCost();
    out(
      `sdk side: one beat (buildHeartbeat + encode + core publish, ${sdk.bytes} bytes) costs the ` +
        `service ${sdk.cpuUsPerBeat.toFixed(1)} us of CPU; at 1 Hz that is ` +
        `${(sdk.cpuUsPerBeat / 1e6).toExponential(1)} cores (${sdk.beats} beats timed)`,
    );
    const sim = await measureSimulatorBeatCost(o.tickMs);
    out(
      `simulator: ${sim.cpuUsPerBeat.template.toFixed(1)} us of CPU per beat, ` +
        `${sim.cpuUsPerBeat.sdk.toFixed(1)} us with every beat built by the SDK's functions and ` +
        `published one by one (as before; ${sim.nodes} nodes at 1 Hz on one TLS connection, ` +
        `${o.tickMs} ms ticks, the two alternated in one process, ${sim.beats.template} and ` +
        `${sim.beats.sdk} beats timed)`,
    );
    const { runs, servers } = await measureRepeated(o, keys, current);
    const rows = runs.flat();
    const loadAtEnd = Math.round((loadavg()[0] ?? 0) * 100) / 100;
    printResults(o, rows, machine.cores);
    if (o.repeat > 1) {
      out(`over ${o.repeat} runs (worst and median run; ratios per run, worst = lowest):`);
      for (const line of formatRepeatSummary(runs)) out(line);
    }
    const problems = rows.flatMap((r) => r.problems);
    if (problems.length > 0) {
      process.stderr.write(`bench:liveness: INVALID RUN:\n  ${problems.join("\n  ")}\n`);
    }
    const json = resultJson({
      backend: o.rows ? o.rows.join(",") : o.backend,
      nodes: o.nodes,
      stop: o.stop,
      ttlS: o.ttlS,
      missAfterS: o.missAfterS,
      tailS: o.tailS,
      seed: o.seed,
      rows,
      // Load at the start; server versions as the running servers reported them.
      machine: { ...machine, servers },
      command: commandLine(),
      loadAtEnd,
      durationS: (performance.now() - t0) / 1000,
    });
    // With --repeat, the per-row keys above are those of the last run; the *_worst/_median
    // keys cover every run.
    out(
      o.repeat > 1
        ? JSON.stringify({ ...JSON.parse(json), ...repeatJson(runs), monitors: o.monitors })
        : o.monitors > 1
          ? JSON.stringify({ ...JSON.parse(json), monitors: o.monitors })
          : json,
    );
    return problems.length > 0 ? 3 : 0;
  } catch (err) {
    if (interrupted) return 130;
    const text = err instanceof KonError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`bench:liveness failed: ${text}\n`);
    return 1;
  }
}

void main().then((code) => process.exit(code));
