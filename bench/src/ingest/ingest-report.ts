import type { CommandLine, MachineInfo } from "../machine-info";
import type { DrainFloor } from "./drain-floor";
import type { Percentiles } from "./percentiles";
import type { CpuUse } from "./process-cpu";

/** Published single-connection figures (Go/pgx into PostgreSQL), printed as reference lines. */
export const ANCHORS = { copyOneConnection: 63_000, multiRowInsert: 37_000 } as const;

/** Absolute targets on a 2-core development machine (they do not carry across machines). */
export const TARGETS = {
  rowsPerSec: 100_000,
  apiP99Ms: 50,
  /** A dashboard's page, `/v1/nodes?limit=100`. */
  pageP99Ms: 10,
  /** Fresh pages under a crowd of concurrent clients. */
  crowdP99Ms: 150,
} as const;

/**
 * Targets as ratios measured in the same run (issue 14): the drain at least half the COPY
 * ceiling; the ingest's steady lag under a crowd of API clients at most twice its lag without.
 */
export const RATIO_TARGETS = { drainOverCeilingMin: 0.5, crowdLagOverSteadyMax: 2 } as const;

/** One ingest measurement: rows from the first publish until the last row was committed. */
export interface IngestPhase {
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
  /** Publisher alone: messages / (last flush − first publish). */
  readonly publishPerSec: number;
  /** Sent but not stored by the stream (its ingest queue overflowed); 0 in a valid run. */
  readonly dropped: number;
  readonly lag: Percentiles;
  readonly cpu: CpuUse;
}

/** The analytics process alone, draining a backlog (publisher idle). */
export interface DrainPhase {
  /** Heartbeats in the backlog. */
  readonly published: number;
  /** KON_HB sequence of the backlog's first heartbeat. */
  readonly firstSeq: number;
  /** Rows committed between the first reading of the new process's counter and the last commit. */
  readonly rows: number;
  readonly seconds: number;
  readonly rowsPerSec: number;
  readonly cpu: CpuUse;
}

/** Everything one run measured. */
export interface IngestResults {
  readonly command: CommandLine;
  readonly machine: MachineInfo;
  readonly pgSettings: Readonly<Record<string, string>>;
  readonly analyticsEnv: Readonly<Record<string, string>>;
  readonly nodes: number;
  readonly ceiling: { rows: number; seconds: number; rowsPerSec: number } | undefined;
  readonly burst: IngestPhase;
  readonly drain: DrainPhase | undefined;
  /** The same backlog read again with less and less of analytics' work (see drain-floor.ts). */
  readonly drainFloors: readonly DrainFloor[] | undefined;
  readonly steady: IngestPhase & { rate: number };
  /** The same steady load while `crowd.clients` clients ask fresh pages of /v1/nodes. */
  readonly steadyUnderCrowd: (IngestPhase & { rate: number }) | undefined;
  readonly crowd:
    | (Percentiles & {
        clients: number;
        /** Where the clients ran: a child process of the bench (not its event loop). */
        process?: "child";
        /** Analytics as one process, or ingest and API as two (`--analytics split`). */
        analytics?: "one" | "split";
        /** Cores the crowd's own process used while it asked (its CPU / its wall time). */
        cores?: number;
      })
    | undefined;
  /**
   * The crowd's floor: the same clients asking a small static file of the same process under the
   * same steady ingest (no database, no JSON), right after.
   */
  readonly crowdFloor?: Percentiles & { clients: number };
  /** `/v1/nodes?limit=100` as served and fresh. */
  readonly apiPage: Percentiles & { nodes: number; bytes: number };
  readonly apiPageFresh: Percentiles & { nodes: number; bytes: number };
  /** /v1/nodes as served (1 s cache) and fresh (Cache-Control: no-cache). */
  readonly apiNodes: Percentiles & { nodes: number; bytes: number };
  readonly apiNodesFresh: Percentiles & { nodes: number; bytes: number };
  readonly apiUptime: Percentiles & { events: number; uptimePct: number | null };
  readonly analyticsMemMiB: { rss: number; peak: number } | undefined;
  /** Rows in `heartbeats` at the end against heartbeats published (nothing lost, no duplicates). */
  readonly rowsInTable: number;
  readonly rowsPublished: number;
  readonly durationS: number;
  readonly loadAtEnd: number;
}

const int = (x: number): string => Math.round(x).toLocaleString("en-US");
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(x < 10 ? 1 : 0) : "-");
const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : "-");
const pad = (s: string, n: number): string => s.padEnd(n);
const lpad = (s: string, n: number): string => s.padStart(n);

const FLOOR_LABELS: Record<DrainFloor["mode"], string> = {
  deliver: "  floor: stored -> analytics' reader, no ack",
  ack: "  floor: + one +ACK per message (no rows)",
  ingest: "  floor: analytics' ingest, no rows written",
};

/** A drain floor of the run by mode. */
export function drainFloor(r: IngestResults, mode: DrainFloor["mode"]): DrainFloor | undefined {
  return r.drainFloors?.find((f) => f.mode === mode);
}

/** The throughput table: ceiling, ingest, anchors, side by side. */
export function formatThroughput(r: IngestResults): string[] {
  const row = (name: string, rows: string, s: string, perSec: string): string =>
    `${pad(name, 46)}${lpad(rows, 11)}${lpad(s, 9)}${lpad(perSec, 11)}`;
  const out = [row("", "rows", "seconds", "rows/s")];
  if (r.ceiling) {
    const c = r.ceiling;
    out.push(
      row(
        "COPY ceiling (1 client, text COPY, no NATS)",
        int(c.rows),
        c.seconds.toFixed(2),
        int(c.rowsPerSec),
      ),
    );
  }
  const b = r.burst;
  out.push(
    row(
      "ingest: publish -> row committed (burst)",
      int(b.rows),
      b.seconds.toFixed(2),
      int(b.rowsPerSec),
    ),
  );
  out.push(row("  publisher alone: core publish + flush", int(b.rows), "", int(b.publishPerSec)));
  if (r.drain) {
    const d = r.drain;
    out.push(
      row(
        "ingest: drain of a backlog (publisher idle)",
        int(d.rows),
        d.seconds.toFixed(2),
        int(d.rowsPerSec),
      ),
    );
  }
  for (const f of r.drainFloors ?? []) {
    out.push(row(FLOOR_LABELS[f.mode], int(f.rows), f.seconds.toFixed(2), int(f.rowsPerSec)));
  }
  out.push(row("anchor: COPY, one connection (published)", "", "", int(ANCHORS.copyOneConnection)));
  out.push(row("anchor: multi-row INSERT (published)", "", "", int(ANCHORS.multiRowInsert)));
  return out;
}

/** Ratios of the ingest against the ceiling and the anchors (> 1: the ingest is faster). */
export function formatRatios(r: IngestResults): string[] {
  const b = r.burst.rowsPerSec;
  const out: string[] = [];
  if (r.ceiling) out.push(`  ingest / COPY ceiling           ${ratio(b, r.ceiling.rowsPerSec)}`);
  if (r.ceiling && r.drain) {
    out.push(
      `  drain / COPY ceiling            ${ratio(r.drain.rowsPerSec, r.ceiling.rowsPerSec)}`,
    );
  }
  const floors = r.drainFloors ?? [];
  if (r.ceiling) {
    for (const f of floors) {
      out.push(
        `  floor ${pad(f.mode, 7)} / COPY ceiling   ${ratio(f.rowsPerSec, r.ceiling.rowsPerSec)}`,
      );
    }
  }
  const ingestFloor = drainFloor(r, "ingest");
  if (r.drain && ingestFloor) {
    out.push(
      `  drain / floor ingest            ${ratio(r.drain.rowsPerSec, ingestFloor.rowsPerSec)}`,
    );
  }
  out.push(`  ingest / COPY anchor (63k)      ${ratio(b, ANCHORS.copyOneConnection)}`);
  out.push(`  ingest / INSERT anchor (37k)    ${ratio(b, ANCHORS.multiRowInsert)}`);
  out.push(`  ingest / target (100k)          ${ratio(b, TARGETS.rowsPerSec)}`);
  return out;
}

export function formatLatencies(r: IngestResults): string[] {
  const line = (name: string, p: Percentiles, extra = ""): string =>
    `  ${pad(name, 44)} p50 ${lpad(ms(p.p50), 6)}  p99 ${lpad(ms(p.p99), 6)}  max ${lpad(ms(p.max), 6)} ms  (n=${p.n}${extra})`;
  return [
    line(`lag, steady ${int(r.steady.rate)}/s for ${Math.round(r.steady.seconds)} s`, r.steady.lag),
    line("lag, burst (includes the backlog's wait)", r.burst.lag),
    line(
      `GET /v1/nodes (${int(r.apiNodes.nodes)} nodes, ${(r.apiNodes.bytes / 1e6).toFixed(1)} MB), 1 s cache`,
      r.apiNodes,
    ),
    line("GET /v1/nodes, fresh (Cache-Control: no-cache)", r.apiNodesFresh),
    line("GET /v1/nodes?limit=100 (a page), 1 s cache", r.apiPage),
    line("GET /v1/nodes?limit=100, fresh", r.apiPageFresh),
    ...(r.crowd
      ? [
          line(
            `GET …?limit=100 fresh, ${r.crowd.clients} concurrent clients` +
              (r.crowd.process === "child" ? " (child process)" : "") +
              (r.crowd.analytics === "split" ? ", API-only analytics" : ""),
            r.crowd,
          ),
        ]
      : []),
    ...(r.crowdFloor
      ? [line(`  the same clients on a static file (the floor)`, r.crowdFloor)]
      : []),
    ...(r.steadyUnderCrowd
      ? [
          line(
            `lag, steady ${int(r.steadyUnderCrowd.rate)}/s under those clients`,
            r.steadyUnderCrowd.lag,
          ),
        ]
      : []),
    line(`GET uptime?window=30d (${int(r.apiUptime.events)} state changes)`, r.apiUptime),
  ];
}

/** CPU microseconds per row, by process: what a row costs each part, whatever the load. */
export function cpuPerRow(c: CpuUse, rows: number): Record<string, number> {
  return Object.fromEntries(
    Object.entries(c.seconds).map(([k, v]) => [k, Math.round((v * 1e6) / Math.max(1, rows))]),
  );
}

export function formatCpu(r: IngestResults): string[] {
  const fmt = (c: CpuUse): string =>
    Object.entries(c.cores)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ");
  const perRow = (c: CpuUse, rows: number): string =>
    Object.entries(cpuPerRow(c, rows))
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
  const drain = r.drain
    ? [
        `  drain phase, cores used:  ${fmt(r.drain.cpu)}`,
        `  drain, CPU µs per row:    ${perRow(r.drain.cpu, r.drain.rows)}`,
      ]
    : [];
  const floors = (r.drainFloors ?? []).map(
    (f) =>
      `  floor ${pad(f.mode + ",", 8)} CPU µs per row: ${perRow(f.cpu, f.rows)} (cores: ${fmt(f.cpu)})`,
  );
  const mem = r.analyticsMemMiB
    ? `analytics RSS ${r.analyticsMemMiB.rss} MiB (peak ${r.analyticsMemMiB.peak} MiB)`
    : "analytics RSS unknown";
  return [
    `  burst phase, cores used:  ${fmt(r.burst.cpu)}`,
    `  burst, CPU µs per row:    ${perRow(r.burst.cpu, r.burst.rows)}`,
    ...drain,
    ...floors,
    `  steady phase, cores used: ${fmt(r.steady.cpu)}`,
    ...(r.steadyUnderCrowd
      ? [
          `  steady under the crowd, cores used: ${fmt(r.steadyUnderCrowd.cpu)}` +
            (r.crowd?.cores !== undefined ? `, crowd clients ${r.crowd.cores.toFixed(2)}` : ""),
        ]
      : []),
    `  ${mem}`,
  ];
}

/** The same-run ratios the targets are stated in (null: a side was not measured). */
export function ingestRatios(r: IngestResults): {
  drainOverCeiling: number | null;
  crowdLagOverSteady: number | null;
  /** The JetStream floor of the present design (per-message acks, no rows) / the ceiling. */
  ackFloorOverCeiling: number | null;
  deliverFloorOverCeiling: number | null;
  drainOverIngestFloor: number | null;
  /** Fresh pages' p99 under the crowd / the same crowd's p99 on a static file. */
  crowdOverStaticFloor: number | null;
} {
  const q = (a: number | undefined, b: number | undefined): number | null =>
    a !== undefined && b !== undefined && b > 0 && Number.isFinite(a) && Number.isFinite(b)
      ? Math.round((a / b) * 1000) / 1000
      : null;
  return {
    drainOverCeiling: q(r.drain?.rowsPerSec, r.ceiling?.rowsPerSec),
    crowdLagOverSteady: q(r.steadyUnderCrowd?.lag.p99, r.steady.lag.p99),
    ackFloorOverCeiling: q(drainFloor(r, "ack")?.rowsPerSec, r.ceiling?.rowsPerSec),
    deliverFloorOverCeiling: q(drainFloor(r, "deliver")?.rowsPerSec, r.ceiling?.rowsPerSec),
    drainOverIngestFloor: q(r.drain?.rowsPerSec, drainFloor(r, "ingest")?.rowsPerSec),
    crowdOverStaticFloor: q(r.crowd?.p99, r.crowdFloor?.p99),
  };
}

export function formatTargets(r: IngestResults): string[] {
  const ok = (b: boolean): string => (b ? "met" : "NOT met");
  const t = TARGETS.apiP99Ms;
  const q = ingestRatios(r);
  const ratioLine = (label: string, v: number | null, limit: number, atMost: boolean): string =>
    v === null
      ? `  ${label} ${atMost ? "<=" : ">="} ${limit}: not measured`
      : `  ${label} ${atMost ? "<=" : ">="} ${limit}: ${v} — ${ok(atMost ? v <= limit : v >= limit)}`;
  const lost = r.rowsPublished - r.rowsInTable;
  const lines = [
    "  same-run ratios:",
    ratioLine(
      "  drain / COPY ceiling",
      q.drainOverCeiling,
      RATIO_TARGETS.drainOverCeilingMin,
      false,
    ),
    ...(q.ackFloorOverCeiling === null
      ? []
      : [
          `      (same run, no database: JetStream with one ack per message ${q.ackFloorOverCeiling} x ceiling, ` +
            `without acks ${q.deliverFloorOverCeiling ?? "-"}; the drain is ${q.drainOverIngestFloor ?? "-"} x analytics' own floor)`,
        ]),
    ratioLine(
      `  steady lag p99 under ${r.crowd?.clients ?? "-"} API clients / without`,
      q.crowdLagOverSteady,
      RATIO_TARGETS.crowdLagOverSteadyMax,
      true,
    ),
    `    rows lost or doubled: ${lost === 0 ? "none" : -lost} — ${ok(lost === 0)}`,
    "  absolute (2-core machine of record):",
    `    rows/s >= ${int(TARGETS.rowsPerSec)}: ${int(r.burst.rowsPerSec)} — ${ok(r.burst.rowsPerSec >= TARGETS.rowsPerSec)}`,
    `    /v1/nodes?limit=100 p99 <= ${TARGETS.pageP99Ms} ms: ${ms(r.apiPage.p99)} ms served — ${ok(r.apiPage.p99 <= TARGETS.pageP99Ms)}; ` +
      `${ms(r.apiPageFresh.p99)} ms fresh — ${ok(r.apiPageFresh.p99 <= TARGETS.pageP99Ms)}`,
    `    /v1/nodes (whole fleet) fresh p99 <= ${t} ms: ${ms(r.apiNodesFresh.p99)} ms — ${ok(r.apiNodesFresh.p99 <= t)} ` +
      `(served ${ms(r.apiNodes.p99)} ms); uptime 30d ${ms(r.apiUptime.p99)} ms — ${ok(r.apiUptime.p99 <= t)}`,
  ];
  if (r.crowd) {
    lines.push(
      `    fresh pages under ${r.crowd.clients} concurrent clients p99 <= ${TARGETS.crowdP99Ms} ms: ` +
        `${ms(r.crowd.p99)} ms — ${ok(r.crowd.p99 <= TARGETS.crowdP99Ms)}`,
    );
    if (r.crowdFloor) {
      lines.push(
        `      (same run and load: the same crowd on a static file ${ms(r.crowdFloor.p99)} ms; ` +
          `pages / static file ${q.crowdOverStaticFloor ?? "-"})`,
      );
    }
  }
  return lines;
}

const round = (x: number, d = 1): number | null =>
  Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null;

/** The last line of the output: one JSON object. */
export function resultJson(r: IngestResults): string {
  return JSON.stringify({
    bench: "ingest",
    rows_per_s: Math.round(r.burst.rowsPerSec),
    lag_p99_ms: round(r.steady.lag.p99),
    api_nodes_p99_ms: round(r.apiNodes.p99),
    api_nodes_fresh_p99_ms: round(r.apiNodesFresh.p99),
    api_uptime_p99_ms: round(r.apiUptime.p99),
    api_page_p99_ms: round(r.apiPage.p99),
    api_page_fresh_p99_ms: round(r.apiPageFresh.p99),
    api_crowd_clients: r.crowd?.clients ?? null,
    api_crowd_process: r.crowd?.process ?? "bench",
    analytics_processes: r.crowd?.analytics ?? "one",
    api_crowd_fresh_p99_ms: r.crowd ? round(r.crowd.p99) : null,
    api_crowd_client_cores: r.crowd?.cores ?? null,
    api_crowd_static_floor_p99_ms: r.crowdFloor ? round(r.crowdFloor.p99) : null,
    api_crowd_over_static_floor_p99: ingestRatios(r).crowdOverStaticFloor,
    cpu_cores_under_crowd: r.steadyUnderCrowd?.cpu.cores ?? null,
    lag_p99_under_crowd_ms: r.steadyUnderCrowd ? round(r.steadyUnderCrowd.lag.p99) : null,
    crowd_lag_over_steady_p99: ingestRatios(r).crowdLagOverSteady,
    ceiling_rows_per_s: r.ceiling ? Math.round(r.ceiling.rowsPerSec) : null,
    ingest_over_ceiling: r.ceiling ? round(r.burst.rowsPerSec / r.ceiling.rowsPerSec, 3) : null,
    anchor_copy_rows_per_s: ANCHORS.copyOneConnection,
    anchor_insert_rows_per_s: ANCHORS.multiRowInsert,
    publish_rows_per_s: Math.round(r.burst.publishPerSec),
    drain_rows_per_s: r.drain ? Math.round(r.drain.rowsPerSec) : null,
    drain_over_ceiling:
      r.ceiling && r.drain ? round(r.drain.rowsPerSec / r.ceiling.rowsPerSec, 3) : null,
    drain_floors: r.drainFloors
      ? Object.fromEntries(
          r.drainFloors.map((f) => [
            f.mode,
            {
              rows_per_s: Math.round(f.rowsPerSec),
              over_ceiling: r.ceiling ? round(f.rowsPerSec / r.ceiling.rowsPerSec, 3) : null,
              cpu_us_per_row: cpuPerRow(f.cpu, f.rows),
            },
          ]),
        )
      : null,
    drain_over_ingest_floor: ingestRatios(r).drainOverIngestFloor,
    rows: r.burst.rows,
    nodes: r.nodes,
    lag_p50_ms: round(r.steady.lag.p50),
    lag_steady_rate: r.steady.rate,
    lag_burst_p99_ms: round(r.burst.lag.p99),
    api_nodes_p50_ms: round(r.apiNodes.p50),
    api_nodes_fresh_p50_ms: round(r.apiNodesFresh.p50),
    api_nodes_bytes: r.apiNodes.bytes,
    api_uptime_p50_ms: round(r.apiUptime.p50),
    api_nodes_count: r.apiNodes.nodes,
    cpu_cores_burst: r.burst.cpu.cores,
    cpu_us_per_row_burst: cpuPerRow(r.burst.cpu, r.burst.rows),
    cpu_us_per_row_drain: r.drain ? cpuPerRow(r.drain.cpu, r.drain.rows) : null,
    analytics_rss_peak_mib: r.analyticsMemMiB?.peak ?? null,
    rows_in_table: r.rowsInTable,
    rows_published: r.rowsPublished,
    rows_dropped_by_stream: r.burst.dropped + r.steady.dropped + (r.steadyUnderCrowd?.dropped ?? 0),
    pg: r.pgSettings,
    analytics_env: r.analyticsEnv,
    machine: {
      cpu: r.machine.cpuModel,
      cores: r.machine.cores,
      mem_gib: r.machine.memoryGiB,
      load_start: r.machine.loadAverage,
      load_end: r.loadAtEnd,
      servers: r.machine.servers,
    },
    command: r.command.npm ?? r.command.node,
    duration_s: Math.round(r.durationS),
  });
}
