import type { CommandLine, MachineInfo } from "../machine-info";
import type { RowKey } from "./case-driver";
import type { RowResult } from "./run-case";

/** A whole run, as the report prints it. */
export interface LivenessResults {
  /** The --backend choice (nats, redis, all), or the --rows list. */
  readonly backend: string;
  readonly nodes: number;
  readonly stop: number;
  readonly ttlS: number;
  readonly missAfterS: number;
  readonly tailS: number;
  readonly seed: number;
  readonly rows: readonly RowResult[];
  readonly machine: MachineInfo;
  readonly command: CommandLine;
  readonly loadAtEnd: number;
  readonly durationS: number;
}

/**
 * Issue 14's targets on a 2-core machine, for the monitor rows: detection p99 <= 250 ms at 10,000
 * nodes (and fewer) and <= 500 ms up to 30,000; one monitor <= 0.25 cores at 10,000 nodes; always
 * 0 missed and 0 false positives (with several monitors: each down once, i.e. 0 duplicates).
 */
export function targetP99Ms(nodes: number): number {
  return nodes <= 10_000 ? 250 : 500;
}
export const TARGET_MONITOR_CORES = 0.25;

const MONITOR_ROWS: readonly RowKey[] = ["nats", "redis"];
const BASELINE_OF: Readonly<Partial<Record<RowKey, RowKey>>> = {
  nats: "raw_nats",
  redis: "raw_redis",
};

const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const ms = (x: number): string => (Number.isFinite(x) ? r1(x).toFixed(1) : "-");
const fixed2 = (x: number | undefined): string =>
  x !== undefined && Number.isFinite(x) ? x.toFixed(2) : "-";
const whole = (x: number | undefined): string =>
  x !== undefined && Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-";

/** The definitions the figures rest on. */
export function formatDefinitions(ttlS: number, missAfterS: number): string[] {
  return [
    `deadline of a stopped node = server-side time of its last beat + TTL (${ttlS} s):`,
    "  monitor rows: the KON_HB stream timestamp of its last heartbeat (direct get, last by",
    "  subject) - what the monitor itself judges by; raw NATS: the stored timestamp of the",
    "  key's last KV message; raw Redis: PEXPIRETIME of the key (Redis's time of the last SET",
    "  + TTL). Never a publish-ack time.",
    "detection delay = time the down reached the bench's subscriber (node.down event decoded as",
    "  NodeEvent / KV watch PURGE marker / __keyevent@0__:expired message) - deadline, both on",
    "  this host's clock (the servers run on this host, so the clocks agree).",
    `missed = a stopped node with no down within ${missAfterS} s after its deadline ('late': one`,
    "  came, but after that). false positive = a down for a node that was beating.",
  ];
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
}

/** One line per row: detection, errors, and the cost of each process. */
export function formatTable(rows: readonly RowResult[]): string[] {
  const head = [
    "row",
    "stopped",
    "n",
    "p50 ms",
    "p99 ms",
    "max ms",
    "min ms",
    "missed",
    "late",
    "false+",
    "mon CPU",
    "mon RSS (idle)",
    "nats CPU",
    "redis CPU",
    "bench CPU",
    "sim CPU",
    "sim us/beat",
    "beats/s",
    "sim lag",
  ];
  const body = rows.map((r) => {
    const d = r.detection;
    const u = r.usage;
    return [
      r.spec.label,
      whole(d.stopped),
      whole(d.delay.n),
      ms(d.delay.p50),
      ms(d.delay.p99),
      ms(d.delay.max),
      ms(d.delay.min),
      whole(d.missed),
      whole(d.late),
      whole(d.falsePositives),
      fixed2(u.monitor?.cores),
      u.monitor ? `${whole(u.monitor.rssMaxMiB)} (${whole(r.rssIdleMiB.monitor)}) MiB` : "-",
      fixed2(u["nats-server"]?.cores),
      fixed2(u["redis-server"]?.cores),
      fixed2(u.bench?.cores),
      fixed2(r.simCores),
      fixed2(r.simUsPerBeat),
      whole(r.sim.beatsPerSec),
      `${whole(r.sim.maxLatenessAllMs)} ms`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [
    pad(head, widths),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...body.map((b) => pad(b, widths)),
  ];
}

/** Cost columns explained, and whatever each row noted. */
export function formatRowNotes(rows: readonly RowResult[]): string[] {
  const out = [
    "CPU = cores used (CPU seconds / wall seconds) from all-up to the end of the tail, from",
    "  /proc/<pid>/stat; mon RSS = largest VmRSS sampled then (/proc/<pid>/status), in brackets",
    "  before the first beat: the monitor runs from source through testkit's run-ts, so that",
    "  includes the TypeScript compiler; bench = this process (simulator, observer and, for the",
    "  baselines, the watcher); sim CPU = the simulated fleet: its own process in the monitor",
    "  rows (all of its CPU), else its part of the bench (its ticks and the flush of their beats,",
    "  TLS included, by process.cpuUsage() around each tick); us/beat = that per beat sent;",
    "  sim lag = latest a beat left after its slot, over the whole row.",
  ];
  for (const r of rows) {
    const s = r.sim;
    const peak = r.usage.monitor ? `, monitor VmHWM ${whole(r.usage.monitor.rssPeakMiB)} MiB` : "";
    out.push(
      `${r.spec.label}: all up after ${r.allUpAfterS.toFixed(1)} s; beats ${whole(s.beatsPerSec)}/s ` +
        `(expected ${whole(s.expectedPerSec)}/s), sim lag in the measured window ` +
        `${whole(s.maxLatenessMs)} ms (over the row ${whole(s.maxLatenessAllMs)} ms, for a beat ` +
        `due ${r1(s.maxLatenessAllAtS)} s after the first); ${r.lostBeats} beats not stored; ` +
        `${r.detection.early} early, ${r.detection.duplicates} duplicate downs${peak}; ` +
        `row took ${Math.round(r.durationS)} s`,
    );
    if (r.detection.refMismatches > 0) {
      out.push(
        `  ${r.detection.refMismatches} downs named another last heartbeat than KON_HB holds`,
      );
    }
    if (r.detection.falsePositiveSamples.length > 0) {
      out.push(`  false positives e.g. ${r.detection.falsePositiveSamples.join(", ")}`);
    }
    for (const n of r.notes) out.push(`  note: ${n}`);
    for (const p of r.problems) out.push(`  PROBLEM: ${p}`);
  }
  return out;
}

function byKey(rows: readonly RowResult[]): Partial<Record<RowKey, RowResult>> {
  return Object.fromEntries(rows.map((r) => [r.spec.key, r]));
}

/**
 * Where the machine's cores went in each row's measured window: every measured process, the
 * bench split into the simulator and the rest (observer, probe, auth callout), and whatever
 * else ran on the machine meanwhile (/proc/stat): a miss then comes with where the time went.
 */
export function formatCoreShares(rows: readonly RowResult[], cores: number): string[] {
  const out = [`cores used in the measured window (of ${cores}; /proc/<pid>/stat and /proc/stat):`];
  for (const r of rows) {
    const u = r.usage;
    const ours = Object.entries(u).filter(([name]) => name !== "bench");
    const bench = u.bench?.cores ?? NaN;
    const sum = ours.reduce((a, [, x]) => a + x.cores, 0) + bench;
    const parts = ours.map(([name, x]) =>
      name === "simulator"
        ? `simulator process ${fixed2(x.cores)} (${fixed2(r.simUsPerBeat)} us/beat)`
        : `${name} ${fixed2(x.cores)}`,
    );
    const callouts =
      r.calloutsInWindow === undefined
        ? ""
        : `, auth callout ${r.calloutsInWindow} checks in the window`;
    parts.push(
      u.simulator
        ? `bench ${fixed2(bench)} (observer, probe${callouts})`
        : `bench ${fixed2(bench)} (simulator ${fixed2(r.simCores)} at ` +
            `${fixed2(r.simUsPerBeat)} us/beat, observer and the rest ` +
            `${fixed2(bench - r.simCores)}${callouts})`,
    );
    parts.push(`everything else on the machine ${fixed2(r.machineCores - sum)}`);
    out.push(`  ${r.spec.label}: machine busy ${fixed2(r.machineCores)} = ${parts.join(", ")}`);
    if (r.auth) out.push(`    credentials: ${r.auth}`);
    out.push(`    ${r.benchPriority}`);
  }
  return out;
}

/** baseline / monitor for p50 and p99 (> 1: the monitor is faster), with misses alongside. */
export function formatRatios(rows: readonly RowResult[]): string[] {
  const k = byKey(rows);
  const out: string[] = [];
  for (const m of MONITOR_ROWS) {
    const mon = k[m];
    const base = k[BASELINE_OF[m]!];
    if (!mon || !base) continue;
    const p50 = base.detection.delay.p50 / mon.detection.delay.p50;
    const p99 = base.detection.delay.p99 / mon.detection.delay.p99;
    out.push(
      `  ${base.spec.label} / ${mon.spec.label}: p50 ${ratio(p50)}, p99 ${ratio(p99)}; ` +
        `missed ${base.detection.missed} vs ${mon.detection.missed}, false positives ` +
        `${base.detection.falsePositives} vs ${mon.detection.falsePositives}` +
        (base.detection.missed > 0 ? " (baseline percentiles over the downs it did see)" : ""),
    );
  }
  return out;
}

function ratio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : "n/a";
}

/** The targets, met or not, per monitor row. */
export function formatTargets(rows: readonly RowResult[], nodes: number): string[] {
  const out: string[] = [];
  const p99Target = targetP99Ms(nodes);
  for (const r of rows) {
    if (!MONITOR_ROWS.includes(r.spec.key)) continue;
    const d = r.detection;
    const ok = d.delay.p99 <= p99Target && d.falsePositives === 0 && d.missed === 0;
    const monitors = Object.entries(r.usage).filter(([name]) => name.startsWith("monitor"));
    // The CPU target is stated for one monitor at 10,000 nodes.
    const cpu =
      monitors.length === 1 && nodes === 10_000
        ? `; monitor ${monitors[0]![1].cores.toFixed(2)} cores (target <= ${TARGET_MONITOR_CORES}) -> ` +
          (monitors[0]![1].cores <= TARGET_MONITOR_CORES ? "met" : "NOT met")
        : "";
    out.push(
      `  ${r.spec.label}: p99 ${ms(d.delay.p99)} ms (target <= ${p99Target}), ` +
        `${d.falsePositives} false positives, ${d.missed} missed (targets 0) -> ` +
        `${ok ? "met" : "NOT met"}${cpu}${r.problems.length > 0 ? " (row invalid, see PROBLEM)" : ""}`,
    );
  }
  if (nodes > 30_000) out.push(`  (the targets are stated up to 30,000 nodes; this run: ${nodes})`);
  return out;
}

/** The final line: one JSON object to compare runs by. */
export function resultJson(r: LivenessResults): string {
  const k = byKey(r.rows);
  const monitors = MONITOR_ROWS.flatMap((m) => (k[m] ? [k[m]] : []));
  const worst = (f: (x: RowResult) => number): number =>
    monitors.reduce((a, x) => Math.max(a, f(x)), -Infinity);
  const sum = (f: (x: RowResult) => number): number => monitors.reduce((a, x) => a + f(x), 0);
  const json: Record<string, unknown> = {
    bench: "liveness",
    backend: r.backend,
    nodes: r.nodes,
    stop: r.stop,
    ttl_s: r.ttlS,
    // With several monitor backends: the worst p50/p99 and the summed errors of them.
    detect_p50_ms: num(r1(worst((x) => x.detection.delay.p50))),
    detect_p99_ms: num(r1(worst((x) => x.detection.delay.p99))),
    detect_max_ms: num(r1(worst((x) => x.detection.delay.max))),
    false_positives: sum((x) => x.detection.falsePositives),
    missed: sum((x) => x.detection.missed),
  };
  for (const row of r.rows) Object.assign(json, rowJson(row));
  for (const m of MONITOR_ROWS) {
    const mon = k[m];
    const base = k[BASELINE_OF[m]!];
    if (mon && base) {
      json[`${base.spec.key}_over_${m}_p99`] = num(
        r2(base.detection.delay.p99 / mon.detection.delay.p99),
      );
    }
  }
  const problems = r.rows.flatMap((x) => x.problems.map((p) => `${x.spec.key}: ${p}`));
  Object.assign(json, {
    valid: problems.length === 0,
    problems,
    sim_max_lag_ms: Math.round(r.rows.reduce((a, x) => Math.max(a, x.sim.maxLatenessAllMs), 0)),
    miss_after_s: r.missAfterS,
    tail_s: r.tailS,
    seed: r.seed,
    cpu: r.machine.cpuModel,
    cores: r.machine.cores,
    load_1m_start: r.machine.loadAverage[0],
    load_1m_end: r.loadAtEnd,
    node: r.machine.node,
    servers: r.machine.servers,
    duration_s: Math.round(r.durationS),
    command: r.command.npm ?? r.command.node,
  });
  return JSON.stringify(json);
}

function rowJson(row: RowResult): Record<string, unknown> {
  const p = row.spec.key;
  const d = row.detection;
  const out: Record<string, unknown> = {
    [`${p}_detect_p50_ms`]: num(r1(d.delay.p50)),
    [`${p}_detect_p99_ms`]: num(r1(d.delay.p99)),
    [`${p}_detect_max_ms`]: num(r1(d.delay.max)),
    [`${p}_false_positives`]: d.falsePositives,
    [`${p}_missed`]: d.missed,
  };
  const monitorCores = Object.entries(row.usage)
    .filter(([name]) => name.startsWith("monitor"))
    .reduce((a, [, x]) => a + x.cores, 0);
  Object.assign(out, {
    [`${p}_monitors_cpu_cores`]: num(r2(monitorCores)),
    [`${p}_nats_cpu_cores`]: num(r2(row.usage["nats-server"]?.cores ?? NaN)),
    [`${p}_bench_cpu_cores`]: num(r2(row.usage.bench?.cores ?? NaN)),
    [`${p}_sim_cpu_cores`]: num(r2(row.simCores)),
    [`${p}_sim_cpu_us_per_beat`]: num(r2(row.simUsPerBeat)),
    [`${p}_machine_cpu_cores`]: num(r2(row.machineCores)),
  });
  if (row.usage.monitor) {
    out[`${p}_monitor_cpu_cores`] = num(r2(row.usage.monitor.cores));
    out[`${p}_monitor_rss_mib`] = num(Math.round(row.usage.monitor.rssMaxMiB));
    out[`${p}_monitor_rss_idle_mib`] = num(Math.round(row.rssIdleMiB.monitor ?? NaN));
  }
  return out;
}

/** JSON has no NaN or Infinity: such a figure is null. */
function num(x: number): number | null {
  return Number.isFinite(x) ? x : null;
}
