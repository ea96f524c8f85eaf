import { loadavg } from "node:os";
import { CleanupStack } from "../cleanup-stack";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import { nodeId } from "../ingest/bench-fleet";
import { BENCH_NICE, TICK_MS } from "../liveness/liveness-options";
import { pickStopped } from "../liveness/pick-stopped";
import { runCase } from "../liveness/run-case";
import { startClusterDriver } from "./cluster-driver";
import type { ScaleoutResults } from "./scaleout-report";
import type { ScaleoutOptions } from "./scaleout-options";
import { startScaleoutStage } from "./scaleout-stage";

const GROUP = "scaleout";
const INTERVAL_MS = 1000;

/**
 * One scale-out run: a NATS cluster, several monitors and analytics instances, one PostgreSQL;
 * a simulated fleet beating at 1 Hz through every server; some nodes stopped to count detection;
 * ingest throughput, lag and completeness measured at the same time. Returns the results.
 */
export async function runScaleout(
  o: ScaleoutOptions,
  log: (line: string) => void,
): Promise<ScaleoutResults> {
  const t0 = Date.now();
  const command = commandLine();
  const cleanup = new CleanupStack();
  cleanup.runOnSignals((s) => log(`${s}: stopping servers`));
  try {
    log(
      `starting ${o.servers} nats-server(s), postgres, ${o.monitors} monitor(s), ${o.analytics} analytics`,
    );
    const stage = await startScaleoutStage(
      { servers: o.servers, monitors: o.monitors, analytics: o.analytics, log },
      cleanup,
    );
    // "Current": at most 100 ms of the fleet's beats waiting on a monitor's KON_HB consumer.
    const maxPending = Math.max(50, Math.round(o.nodes / 10));
    const driver = await startClusterDriver(stage, GROUP, cleanup, maxPending);
    const machine = collectMachineInfo(driver.versions);
    for (const line of formatMachineInfo(machine)) log(line);
    const nodeIds = Array.from({ length: o.nodes }, (_, i) => nodeId(i));
    const row = await runCase(driver, {
      group: GROUP,
      nodeIds,
      stopIndexes: pickStopped(o.nodes, o.stop, o.seed),
      intervalMs: INTERVAL_MS,
      ttlMs: o.ttlS * 1000,
      warmupMs: o.warmupS * 1000,
      upTimeoutMs: o.upTimeoutS * 1000,
      missAfterMs: o.missAfterS * 1000,
      tailMs: o.tailS * 1000,
      maxSimLagMs: o.maxSimLagMs,
      tickMs: TICK_MS,
      benchNice: BENCH_NICE,
      log,
    });
    log(`  simulator stopped; waiting for the ingest to hold every stored heartbeat`);
    const ingest = await driver.ingest.finish(driver.storedBeats(), 120_000);
    return {
      options: o,
      row,
      ingest,
      postgresCpu: driver.postgresCpu(),
      health: driver.monitorHealth(),
      storedDowns: driver.storedDowns(),
      machine,
      command,
      loadAtEnd: loadavg()[0] ?? NaN,
      durationS: (Date.now() - t0) / 1000,
    };
  } finally {
    await cleanup.run();
  }
}
