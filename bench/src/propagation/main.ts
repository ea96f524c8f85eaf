// bench:propagation — how fast a config change reaches services through the SDK, against one raw
// kv.watch per watcher and etcd's watch, in one run. `npm run bench:propagation -- --help`.
import { mkdtemp, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { connect } from "@nats-io/transport-node";
import { KonError } from "@konorkestra/sdk";
import { wireNames } from "@konorkestra/sdk/internal";
import type { Logger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import { etcdUnavailable, measureEtcd, startEtcdForBench } from "./etcd-variant";
import type { EtcdHandle } from "./etcd-variant";
import { measureFileToApplied } from "./file-to-applied";
import { measureRawKv, measureSdk } from "./nats-variants";
import type { FleetPlan, NatsBench } from "./nats-variants";
import { parsePropagationOptions, USAGE } from "./propagation-options";
import type { PropagationOptions } from "./propagation-options";
import {
  formatRatioTargets,
  formatRatios,
  formatTable,
  formatTargets,
  resultJson,
} from "./propagation-report";
import { formatPropagationRepeats, repeatJson } from "./propagation-repeat";
import type { PropagationResults } from "./propagation-report";
import { benchOptions, repeatCase } from "../bench-flags";
import { CleanupStack } from "../cleanup-stack";

const out = (line = ""): void => void process.stdout.write(line + "\n");

/** SDK and loader chatter: info dropped, warnings and errors to stderr and counted. */
function benchLogger(): Logger & { count(): number } {
  let n = 0;
  const err = (m: string): void => {
    n++;
    process.stderr.write(`  [warn] ${m}\n`);
  };
  return { info: () => undefined, warn: err, error: err, count: () => n };
}

/** Servers and scratch space of one run. */
interface Stage {
  readonly bench: NatsBench;
  readonly etcd: EtcdHandle | undefined;
  readonly skipped: Record<string, string>;
}

/** Starts what the run needs; registers in `cleanup` how to stop each part as soon as it runs. */
async function setUp(o: PropagationOptions, logger: Logger, cleanup: CleanupStack): Promise<Stage> {
  const scratch = await mkdtemp(join(tmpdir(), "kon-bench-propagation-"));
  cleanup.push(() => rm(scratch, { recursive: true, force: true }));
  const nats = await startNats();
  cleanup.push(() => nats.stop());
  const writer = await connect({ ...nats.clientOptions(), name: "bench-writer" });
  cleanup.push(() => writer.close());
  const bench = { client: nats.clientOptions(), writer, names: wireNames("kon"), scratch, logger };
  const skipped: Record<string, string> = {};
  let etcd: EtcdHandle | undefined;
  const why = o.skipEtcd ? "--skip-etcd" : etcdUnavailable();
  if (why) skipped.etcd = why;
  else {
    const started = await startEtcdForBench();
    cleanup.push(() => started.server.stop());
    etcd = started;
  }
  if (o.skipRaw) skipped.raw = "--skip-raw";
  return { bench, etcd, skipped };
}

async function measure(
  o: PropagationOptions,
  stage: Stage,
  logger: Logger,
  run: number,
): Promise<Omit<PropagationResults, "command" | "machine" | "durationS" | "loadAtEnd">> {
  const plan: FleetPlan = {
    warmup: o.warmup,
    changes: o.changes,
    pauseMs: o.pauseMs,
    timeoutMs: o.timeoutMs,
    settleMs: o.settleMs,
  };
  const fleet = { watchers: o.watchers, connections: o.connections, schemas: o.schemas };
  const step = (what: string): void => out(`... ${o.repeat > 1 ? `run ${run + 1}: ` : ""}${what}`);
  // Every run on buckets of its own, so that no run sees another's history.
  const g = (name: string): string => (run === 0 ? name : `${name}-r${run + 1}`);
  const b = stage.bench;
  step(`1 watcher: 1 SDK connection, 1 handle, ${o.oneWatcherChanges} changes`);
  const one = { watchers: 1, connections: 1, schemas: o.schemas };
  const onePlan = { ...plan, changes: o.oneWatcherChanges };
  const oneWatcher = await measureSdk(b, g("bench-one"), one, onePlan);
  let oneRaw;
  if (!o.skipRaw) {
    // Right after the SDK's, same changes: the floor the SDK's 1-watcher figure is judged against.
    step(`1 watcher: 1 raw kv.watch on 1 connection, ${o.oneWatcherChanges} changes`);
    oneRaw = await measureRawKv(b, g("bench-one-raw"), one, onePlan);
  }
  step(`fleet: SDK shared watch, ${o.watchers} handles over ${o.connections} connections`);
  const sdk = await measureSdk(b, g("bench-sdk"), fleet, plan);
  let raw;
  if (!o.skipRaw) {
    step(
      `fleet: raw kv.watch per watcher, ${o.watchers} watches over ${o.connections} connections`,
    );
    raw = await measureRawKv(b, g("bench-raw"), fleet, plan);
  }
  let etcd;
  if (stage.etcd) {
    step(`fleet: etcd watch, ${o.watchers} watchers over ${o.connections} etcd3 clients`);
    etcd = await measureEtcd(stage.etcd, fleet, plan, logger);
  }
  step(`file save -> applied: config-loader + 1 SDK handle, ${o.changes} saves`);
  const file = await measureFileToApplied(
    {
      client: b.client,
      group: g("bench-file"),
      key: "checkout",
      dir: join(b.scratch, g("file")),
      debounceMs: o.debounceMs,
      logger,
    },
    plan,
  );
  return {
    watchers: o.watchers,
    connections: o.connections,
    changes: o.changes,
    schemas: o.schemas,
    oneWatcher,
    oneRaw,
    sdk,
    raw,
    etcd,
    file,
    skipped: stage.skipped,
  };
}

function printHeader(o: PropagationOptions, stage: Stage): PropagationResults["machine"] {
  const versions: Record<string, string> = {
    "nats-server": stage.bench.writer.info?.version ?? "?",
  };
  if (stage.etcd) versions.etcd = stage.etcd.version;
  const machine = collectMachineInfo(versions);
  const cmd = commandLine();
  out("bench:propagation — config change -> applied in a service, through the SDK (decode + zod)");
  out(`command: ${cmd.npm ?? cmd.node}`);
  if (cmd.npm) out(`         (${cmd.node})`);
  for (const line of formatMachineInfo(machine)) out(line);
  out(
    `setup:   ${o.watchers} watchers over ${o.connections} connections; ` +
      `${o.changes} changes per fleet (+${o.warmup} warm-up), ${o.oneWatcherChanges} with 1 watcher; ` +
      `${o.pauseMs} ms pause; timeout ${o.timeoutMs} ms`,
  );
  const schemas =
    o.schemas === "per-connection"
      ? "one per connection, shared by its watchers"
      : "one per watcher";
  out(
    "values:  every watcher watches the same key (a 710-byte JSON config in an 860-byte " +
      `ConfigEntry); zod schema objects: ${schemas}`,
  );
  out(
    "note:    one process plays every connection and every watcher (and the writer), so all " +
      "decode/zod work of a fleet shares one core; clocks are this process's monotonic clock",
  );
  for (const [what, why] of Object.entries(stage.skipped)) out(`skipped: ${what}: ${why}`);
  return machine;
}

function printResults(r: PropagationResults, warnings: number): void {
  out();
  out(
    "time from the write until the LAST watcher applied the change (1st p50: until the first did):",
  );
  for (const line of formatTable(r)) out("  " + line);
  out();
  const ratios = formatRatios(r);
  if (ratios.length > 0) {
    out("ratios, same run (1 watcher: SDK / its raw floor, > 1 is what the SDK adds;");
    out(
      "                  fleet: other / SDK shared watch, > 1 means the shared watch is faster):",
    );
    for (const line of ratios) out(line);
  }
  out("targets as same-run ratios (carry across machines):");
  for (const line of formatRatioTargets(r)) out(line);
  out("absolute targets (2-core machine of record; shown next to the ratios):");
  for (const line of formatTargets(r)) out(line);
  for (const o of [r.oneWatcher, r.sdk, r.raw, r.etcd]) {
    if (!o) continue;
    for (const f of o.failed) {
      out(`  timeout: change ${f.version} applied by ${f.applied} of ${o.watchers} watchers`);
    }
  }
  for (const f of r.file?.failed ?? []) out(`  timeout: file save ${f.version} not applied`);
  if (warnings > 0) out(`warnings: ${warnings} (on stderr)`);
  out(`load:    ${r.loadAtEnd} (1 min, at the end); run took ${Math.round(r.durationS)} s`);
  out(resultJson(r));
}

async function main(): Promise<number> {
  const o = benchOptions(parsePropagationOptions, USAGE);
  if (typeof o === "number") return o;
  const t0 = performance.now();
  const logger = benchLogger();
  const cleanup = new CleanupStack((msg) => logger.warn(msg));
  let interrupted = false;
  cleanup.runOnSignals((signal) => {
    interrupted = true;
    process.stderr.write(`bench:propagation: ${signal}, stopping the servers\n`);
  });
  try {
    const stage = await setUp(o, logger, cleanup);
    const machine = printHeader(o, stage);
    const runs = await repeatCase(
      o.repeat,
      async (i) => {
        const tRun = performance.now();
        const measured = await measure(o, stage, logger, i);
        const loadAtEnd = Math.round((loadavg()[0] ?? 0) * 100) / 100;
        const durationS = (performance.now() - tRun) / 1000;
        return { ...measured, machine, command: commandLine(), durationS, loadAtEnd };
      },
      (r, i) => {
        if (o.repeat > 1) out(`\n=== run ${i + 1} of ${o.repeat}`);
        printResults(r, logger.count());
      },
    );
    await cleanup.run();
    if (o.repeat > 1) {
      out();
      out(`over ${o.repeat} runs (worst / median; targets judged on the worst run):`);
      for (const line of formatPropagationRepeats(runs)) out(line);
      out(`total time ${Math.round((performance.now() - t0) / 1000)} s`);
      out(repeatJson(runs));
    }
    return 0;
  } catch (err) {
    if (interrupted) return 130;
    const text = err instanceof KonError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`bench:propagation failed: ${text}\n`);
    return 1;
  } finally {
    await cleanup.run();
  }
}

void main().then((code) => process.exit(code));
