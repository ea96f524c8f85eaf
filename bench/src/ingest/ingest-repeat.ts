import { formatRepeats, summarizeRepeats } from "../bench-flags";
import type { RepeatSummary } from "../bench-flags";
import { RATIO_TARGETS, TARGETS, ingestRatios } from "./ingest-report";
import type { IngestResults } from "./ingest-report";

interface Figure {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** Which way is bad. */
  readonly worse: "higher" | "lower";
  readonly of: (r: IngestResults) => number | null | undefined;
  /** The target the worst run is judged against, if the figure has one. */
  readonly limit?: number;
}

const FIGURES: readonly Figure[] = [
  {
    key: "drain_over_ceiling",
    label: "drain / COPY ceiling",
    unit: "x",
    worse: "lower",
    of: (r) => ingestRatios(r).drainOverCeiling,
    limit: RATIO_TARGETS.drainOverCeilingMin,
  },
  {
    key: "crowd_lag_over_steady_p99",
    label: "steady lag p99 with API crowd / without",
    unit: "x",
    worse: "higher",
    of: (r) => ingestRatios(r).crowdLagOverSteady,
    limit: RATIO_TARGETS.crowdLagOverSteadyMax,
  },
  {
    key: "rows_lost_or_doubled",
    label: "rows lost or doubled",
    unit: "rows",
    worse: "higher",
    of: (r) => Math.abs(r.rowsPublished - r.rowsInTable),
    limit: 0,
  },
  {
    key: "ceiling_rows_per_s",
    label: "COPY ceiling",
    unit: "rows/s",
    worse: "lower",
    of: (r) => r.ceiling?.rowsPerSec,
  },
  {
    key: "drain_rows_per_s",
    label: "drain",
    unit: "rows/s",
    worse: "lower",
    of: (r) => r.drain?.rowsPerSec,
  },
  {
    key: "api_page_p99_ms",
    label: "/v1/nodes?limit=100 p99, served",
    unit: "ms",
    worse: "higher",
    of: (r) => r.apiPage.p99,
    limit: TARGETS.pageP99Ms,
  },
  {
    key: "api_page_fresh_p99_ms",
    label: "/v1/nodes?limit=100 p99, fresh",
    unit: "ms",
    worse: "higher",
    of: (r) => r.apiPageFresh.p99,
    limit: TARGETS.pageP99Ms,
  },
  {
    key: "api_nodes_fresh_p99_ms",
    label: "/v1/nodes whole fleet p99, fresh",
    unit: "ms",
    worse: "higher",
    of: (r) => r.apiNodesFresh.p99,
    limit: TARGETS.apiP99Ms,
  },
  {
    key: "api_crowd_fresh_p99_ms",
    label: "fresh pages p99, API crowd",
    unit: "ms",
    worse: "higher",
    of: (r) => r.crowd?.p99,
    limit: TARGETS.crowdP99Ms,
  },
];

function summaries(runs: readonly IngestResults[]): [Figure, RepeatSummary][] {
  return FIGURES.flatMap((f) => {
    const values = runs.map((r) => f.of(r));
    if (values.every((v) => v === null || v === undefined)) return [];
    return [
      [
        f,
        summarizeRepeats(
          values.map((v) => v ?? NaN),
          f.worse,
        ),
      ],
    ];
  });
}

/** Worst and median of each figure over the runs, each target judged on the worst run. */
export function formatIngestRepeats(runs: readonly IngestResults[]): string[] {
  return summaries(runs).map(([f, s]) => {
    let verdict = "";
    if (f.limit !== undefined) {
      const sign = f.worse === "higher" ? "<=" : ">=";
      const met = f.worse === "higher" ? s.worst <= f.limit : s.worst >= f.limit;
      verdict = `  (target ${sign} ${f.limit}${f.unit === "x" ? "" : ` ${f.unit}`}: ${met ? "met" : "MISSED"} in the worst run)`;
    }
    const digits = f.unit === "rows/s" || f.unit === "rows" ? 0 : 2;
    return `  ${f.label.padEnd(40)} ${formatRepeats(s, f.unit === "x" ? "" : f.unit, digits)}${verdict}`;
  });
}

/** The repeat summary as one JSON line: `{bench, runs, <figure>: {worst, median, all}}`. */
export function ingestRepeatJson(runs: readonly IngestResults[]): string {
  const out: Record<string, unknown> = { bench: "ingest-repeat", runs: runs.length };
  const r2 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
  for (const [f, s] of summaries(runs)) {
    out[f.key] = { worst: r2(s.worst), median: r2(s.median), all: s.all.map(r2) };
  }
  return JSON.stringify(out);
}
