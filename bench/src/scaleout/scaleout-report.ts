import type { CommandLine, MachineInfo } from "../machine-info";
import type { CpuUse } from "../ingest/process-cpu";
import type { MonitorHealth } from "../liveness/monitor-probe";
import type { RowResult } from "../liveness/run-case";
import type { IngestFigures } from "./ingest-meter";
import type { StoredDowns } from "./monitor-readiness";
import type { ScaleoutOptions } from "./scaleout-options";

/** Everything a scale-out run measured. */
export interface ScaleoutResults {
  readonly options: ScaleoutOptions;
  readonly row: RowResult;
  readonly ingest: IngestFigures;
  readonly postgresCpu: CpuUse | undefined;
  readonly health: MonitorHealth | undefined;
  /** Downs KON_EVENTS stored (its duplicate window drops a re-publish of the same event id). */
  readonly storedDowns: StoredDowns | undefined;
  readonly machine: MachineInfo;
  readonly command: CommandLine;
  readonly loadAtEnd: number;
  readonly durationS: number;
}

/** Per-unit costs derived from a run: the inputs of docs/scaling.md's model. */
export interface UnitCosts {
  /** Beats per second over the window (the simulator's own count). */
  readonly beatsPerSec: number;
  /** Per monitor: CPU µs per beat of the whole fleet (every monitor reads every beat). */
  readonly monitorUsPerBeat: readonly number[];
  /** Per monitor: (RSS max − RSS before the first beat) / nodes, KiB. */
  readonly monitorKibPerNode: readonly number[];
  /** Sum over the cluster's servers, µs per beat (stored with R replicas, read by every consumer). */
  readonly natsUsPerBeat: number;
  /** Sum over the analytics instances, µs per ingested row. */
  readonly analyticsUsPerRow: number;
  readonly postgresUsPerRow: number;
  readonly benchUsPerBeat: number;
}

const us = (cores: number, perSec: number): number => (cores / perSec) * 1e6;
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const r1 = (x: number): number => Math.round(x * 10) / 10;
const r2 = (x: number): number => Math.round(x * 100) / 100;
const whole = (x: number): string =>
  Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-";
const named = (r: ScaleoutResults, prefix: string): string[] =>
  Object.keys(r.row.usage).filter((k) => k.startsWith(prefix));

export function unitCosts(r: ScaleoutResults): UnitCosts {
  const beats = r.row.sim.beatsPerSec;
  const u = r.row.usage;
  const monitors = named(r, "monitor-");
  const cores = (prefix: string): number => sum(named(r, prefix).map((k) => u[k]!.cores));
  const rows = r.ingest.rowsPerSec;
  return {
    beatsPerSec: beats,
    monitorUsPerBeat: monitors.map((k) => r1(us(u[k]!.cores, beats))),
    monitorKibPerNode: monitors.map((k) =>
      r2(((u[k]!.rssMaxMiB - (r.row.rssIdleMiB[k] ?? NaN)) * 1024) / r.options.nodes),
    ),
    natsUsPerBeat: r1(us(cores("nats-"), beats)),
    analyticsUsPerRow: r1(us(cores("analytics-"), rows)),
    postgresUsPerRow: r1(us(r.postgresCpu?.cores.postgres ?? NaN, rows)),
    benchUsPerBeat: r1(us(u.bench?.cores ?? NaN, beats)),
  };
}

/** The human-readable report (the JSON line comes separately, last). */
export function formatReport(r: ScaleoutResults): string[] {
  const { row, ingest, options: o } = r;
  const d = row.detection;
  const c = unitCosts(r);
  const out: string[] = [];
  out.push(
    `fleet: ${o.nodes} nodes at 1 Hz, TTL ${o.ttlS} s, ${o.stop} stopped; window ${r1(row.sim.windowS)} s, ` +
      `${whole(row.sim.beatsPerSec)} beats/s of ${whole(row.sim.expectedPerSec)} expected, ` +
      `simulator late by at most ${whole(row.sim.maxLatenessAllMs)} ms, ${row.lostBeats} beats not stored`,
  );
  out.push("", "process          cores   RSS idle MiB   RSS max MiB");
  for (const [name, p] of Object.entries(row.usage)) {
    const idle = row.rssIdleMiB[name];
    out.push(
      `${name.padEnd(14)} ${r2(p.cores).toFixed(2).padStart(7)} ${whole(idle ?? NaN).padStart(14)} ${whole(p.rssMaxMiB).padStart(13)}`,
    );
  }
  const pgCores = r.postgresCpu?.cores.postgres ?? NaN;
  out.push(`${"postgres (tree)".padEnd(14)} ${pgCores.toFixed(2).padStart(7)}`);
  const benchCores = row.usage.bench?.cores ?? NaN;
  const listed = Object.values(row.usage).reduce((a, p) => a + p.cores, 0) + pgCores;
  out.push(
    `  bench ${benchCores.toFixed(2)} = simulator ${row.simCores.toFixed(2)} ` +
      `(${row.simUsPerBeat.toFixed(1)} µs per beat) + observer, probes and the rest ` +
      `${(benchCores - row.simCores).toFixed(2)}; auth callout: ${row.calloutsInWindow ?? "?"} ` +
      `checks in the window (in the bench process)`,
    `  machine busy ${row.machineCores.toFixed(2)} of ${r.machine.cores} cores: the processes above ` +
      `${listed.toFixed(2)}, everything else on the machine ${(row.machineCores - listed).toFixed(2)}`,
  );
  if (row.auth) out.push(`  credentials: ${row.auth}`);
  out.push(`  ${row.benchPriority}`);
  out.push(
    "",
    `detection (${d.withDeadline} of ${d.stopped} with a server deadline): p50 ${whole(d.delay.p50)} ms, ` +
      `p99 ${whole(d.delay.p99)} ms, max ${whole(d.delay.max)} ms`,
    `  missed ${d.missed} (late ${d.late}), false ${d.falsePositives}, duplicate publishes ${d.duplicates}, ` +
      `early ${d.early}, ref mismatch ${d.refMismatches}`,
    `  KON_EVENTS stored ${r.storedDowns?.stored ?? "?"} downs for ${r.storedDowns?.nodes ?? "?"} nodes: ` +
      `${r.storedDowns?.duplicates ?? "?"} stored duplicates`,
  );
  if (r.health) {
    out.push(
      `  monitor 1: consumer current in ${Math.round(r.health.currentShare * 100)}% of ${r.health.samples} samples, ` +
        `clock lag max ${whole(r.health.maxClockLagMs)} ms, KON_HB backlog max ${whole(r.health.maxBacklog)}`,
    );
  }
  out.push(
    "",
    `ingest: ${whole(ingest.rowsPerSec)} rows/s in the window, per instance ${ingest.rowsPerInstance.map(whole).join(" / ")}`,
    `  lag probe → row: n ${ingest.lag.n}, p50 ${whole(ingest.lag.p50)} ms, p99 ${whole(ingest.lag.p99)} ms, ` +
      `max ${whole(ingest.lag.max)} ms, unseen ${ingest.lagUnseen}`,
    `  table ${whole(ingest.rowsInTable)} rows (${whole(ingest.distinctRows)} distinct) for ` +
      `${whole(ingest.stored)} stored; caught up ${Number.isFinite(ingest.catchUpS) ? r1(ingest.catchUpS) + " s" : "NEVER"} after the last beat`,
    "",
    `per unit: monitor ${c.monitorUsPerBeat.join(" / ")} µs per beat and ${c.monitorKibPerNode.join(" / ")} KiB per node; ` +
      `nats (all servers) ${c.natsUsPerBeat} µs per beat; analytics (all) ${c.analyticsUsPerRow} µs per row; ` +
      `postgres ${c.postgresUsPerRow} µs per row; bench ${c.benchUsPerBeat} µs per beat ` +
      `(simulator ${r1(row.simUsPerBeat)})`,
  );
  for (const n of row.notes) out.push(`note: ${n}`);
  for (const p of problems(r)) out.push(`PROBLEM: ${p}`);
  return out;
}

/** Why the run's figures cannot be trusted (the row's own problems plus ingest's). */
export function problems(r: ScaleoutResults): string[] {
  const out = [...r.row.problems];
  if (r.row.lostBeats !== 0) out.push(`${r.row.lostBeats} beats not stored by KON_HB`);
  const i = r.ingest;
  if (i.rowsInTable !== i.stored)
    out.push(`table holds ${i.rowsInTable} rows for ${i.stored} stored`);
  if (i.distinctRows !== i.rowsInTable)
    out.push(`${i.rowsInTable - i.distinctRows} duplicate rows`);
  return out;
}

/** The one JSON line that ends the output. */
export function resultJson(r: ScaleoutResults): string {
  const { row, ingest, options: o } = r;
  const d = row.detection;
  const c = unitCosts(r);
  const usage = Object.fromEntries(
    Object.entries(row.usage).map(([k, p]) => [
      k,
      {
        cores: r2(p.cores),
        rss_max_mib: Math.round(p.rssMaxMiB),
        rss_idle_mib: Math.round(row.rssIdleMiB[k] ?? NaN),
      },
    ]),
  );
  return JSON.stringify({
    bench: "scaleout",
    nodes: o.nodes,
    stop: o.stop,
    servers: o.servers,
    replicas: o.servers,
    monitors: o.monitors,
    analytics: o.analytics,
    ttl_s: o.ttlS,
    beats_per_s: Math.round(row.sim.beatsPerSec),
    detect_p50_ms: d.delay.p50,
    detect_p99_ms: d.delay.p99,
    detect_max_ms: d.delay.max,
    missed: d.missed,
    false_positives: d.falsePositives,
    duplicates: d.duplicates,
    downs_stored: r.storedDowns?.stored ?? null,
    duplicates_stored: r.storedDowns?.duplicates ?? null,
    ingest_rows_per_s: Math.round(ingest.rowsPerSec),
    ingest_rows_per_instance: ingest.rowsPerInstance,
    ingest_lag_p50_ms: ingest.lag.p50,
    ingest_lag_p99_ms: ingest.lag.p99,
    ingest_caught_up_s: Number.isFinite(ingest.catchUpS) ? r1(ingest.catchUpS) : null,
    rows_in_table: ingest.rowsInTable,
    rows_distinct: ingest.distinctRows,
    rows_stored: ingest.stored,
    lost_beats: row.lostBeats,
    usage,
    postgres_cores: r2(r.postgresCpu?.cores.postgres ?? NaN),
    monitor_us_per_beat: c.monitorUsPerBeat,
    monitor_kib_per_node: c.monitorKibPerNode,
    nats_us_per_beat: c.natsUsPerBeat,
    analytics_us_per_row: c.analyticsUsPerRow,
    postgres_us_per_row: c.postgresUsPerRow,
    monitor_consumer_current: r.health ? r2(r.health.currentShare) : null,
    monitor_backlog_max: r.health?.maxBacklog ?? null,
    sim_max_lag_ms: Math.round(row.sim.maxLatenessAllMs),
    sim_cpu_cores: r2(row.simCores),
    sim_cpu_us_per_beat: r2(row.simUsPerBeat),
    machine_cpu_cores: r2(row.machineCores),
    valid: problems(r).length === 0,
    problems: problems(r),
    cpu: r.machine.cpuModel,
    cores: r.machine.cores,
    load_1m_start: r.machine.loadAverage[0],
    load_1m_end: r2(r.loadAtEnd),
    node: r.machine.node,
    servers_versions: r.machine.servers,
    duration_s: Math.round(r.durationS),
    command: r.command.npm ?? r.command.node,
  });
}
