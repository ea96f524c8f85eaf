import { figuresJson, formatFigures } from "../repeat-figures";
import type { RepeatFigure } from "../repeat-figures";
import { RATIO_TARGETS, TARGETS, ingestRatios } from "./ingest-report";
import type { IngestResults } from "./ingest-report";

const FIGURES: readonly RepeatFigure<IngestResults>[] = [
  {
    key: "drain_over_ceiling",
    label: "drain / COPY ceiling",
    unit: "x",
    worse: "lower",
    of: (r) => ingestRatios(r).drainOverCeiling,
    limit: RATIO_TARGETS.drainOverCeilingMin,
  },
  {
    key: "ack_floor_over_ceiling",
    label: "floor (JetStream, 1 ack/row, no DB) / COPY ceiling",
    unit: "x",
    worse: "lower",
    of: (r) => ingestRatios(r).ackFloorOverCeiling,
  },
  {
    key: "drain_over_ingest_floor",
    label: "drain / analytics' floor (no rows written)",
    unit: "x",
    worse: "lower",
    of: (r) => ingestRatios(r).drainOverIngestFloor,
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
  {
    key: "api_crowd_static_floor_p99_ms",
    label: "same crowd on a static file p99 (floor)",
    unit: "ms",
    worse: "higher",
    of: (r) => r.crowdFloor?.p99,
  },
  {
    key: "api_crowd_over_static_floor_p99",
    label: "fresh pages p99 / static file p99, same crowd",
    unit: "x",
    worse: "higher",
    of: (r) => ingestRatios(r).crowdOverStaticFloor,
  },
];

/** Worst and median of each figure over the runs, each target judged on the worst run. */
export function formatIngestRepeats(runs: readonly IngestResults[]): string[] {
  return formatFigures(runs, FIGURES, 40, (f) =>
    f.unit === "rows/s" || f.unit === "rows" ? 0 : 2,
  );
}

/** The repeat summary as one JSON line: `{bench, runs, <figure>: {worst, median, all}}`. */
export function ingestRepeatJson(runs: readonly IngestResults[]): string {
  return figuresJson("ingest-repeat", runs, FIGURES);
}
