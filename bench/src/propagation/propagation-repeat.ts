import { formatRepeats, summarizeRepeats } from "../bench-flags";
import type { RepeatSummary } from "../bench-flags";
import { RATIO_TARGETS, TARGETS, propagationRatios } from "./propagation-report";
import type { PropagationResults } from "./propagation-report";

interface Figure {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** Which way is bad. */
  readonly worse: "higher" | "lower";
  readonly of: (r: PropagationResults) => number | null | undefined;
  /** The target the worst run is judged against, if the figure has one. */
  readonly limit?: number;
}

const FIGURES: readonly Figure[] = [
  {
    key: "one_watcher_over_raw_p99",
    label: "1 watcher SDK / raw kv.watch p99",
    unit: "x",
    worse: "higher",
    of: (r) => propagationRatios(r).oneWatcherOverRawP99,
    limit: RATIO_TARGETS.oneWatcherOverRawP99Max,
  },
  {
    key: "raw_over_shared_p99",
    label: "fleet raw kv.watch / SDK p99",
    unit: "x",
    worse: "lower",
    of: (r) => propagationRatios(r).rawOverSharedP99,
    limit: RATIO_TARGETS.rawOverSharedP99Min,
  },
  {
    key: "etcd_over_shared_p99",
    label: "fleet etcd / SDK p99",
    unit: "x",
    worse: "lower",
    of: (r) => propagationRatios(r).etcdOverSharedP99,
    limit: RATIO_TARGETS.etcdOverSharedP99Min,
  },
  {
    key: "one_watcher_p99_ms",
    label: "1 watcher SDK p99",
    unit: "ms",
    worse: "higher",
    of: (r) => r.oneWatcher.last.p99,
    limit: TARGETS.oneWatcherP99Ms,
  },
  {
    key: "one_raw_p99_ms",
    label: "1 watcher raw kv.watch p99",
    unit: "ms",
    worse: "higher",
    of: (r) => r.oneRaw?.last.p99,
  },
  {
    key: "fleet_last_p99_ms",
    label: "fleet SDK last watcher p99",
    unit: "ms",
    worse: "higher",
    of: (r) => r.sdk.last.p99,
    limit: TARGETS.fleetLastP99Ms,
  },
  {
    key: "file_to_applied_p50_ms",
    label: "file save -> applied p50",
    unit: "ms",
    worse: "higher",
    of: (r) => r.file?.last.p50,
    limit: TARGETS.fileToAppliedP50Ms,
  },
];

function summaries(runs: readonly PropagationResults[]): [Figure, RepeatSummary][] {
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
export function formatPropagationRepeats(runs: readonly PropagationResults[]): string[] {
  return summaries(runs).map(([f, s]) => {
    let verdict = "";
    if (f.limit !== undefined) {
      const sign = f.worse === "higher" ? "<=" : ">=";
      const met = f.worse === "higher" ? s.worst <= f.limit : s.worst >= f.limit;
      verdict = `  (target ${sign} ${f.limit}${f.unit === "x" ? "" : ` ${f.unit}`}: ${met ? "met" : "MISSED"} in the worst run)`;
    }
    return `  ${f.label.padEnd(34)} ${formatRepeats(s, f.unit === "x" ? "" : f.unit, 2)}${verdict}`;
  });
}

/** The repeat summary as one JSON line: `{bench, runs, <figure>: {worst, median, all}}`. */
export function repeatJson(runs: readonly PropagationResults[]): string {
  const out: Record<string, unknown> = { bench: "propagation-repeat", runs: runs.length };
  const r2 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
  for (const [f, s] of summaries(runs)) {
    out[f.key] = { worst: r2(s.worst), median: r2(s.median), all: s.all.map(r2) };
  }
  return JSON.stringify(out);
}
