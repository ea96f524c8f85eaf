import { figuresJson, formatFigures } from "../repeat-figures";
import type { RepeatFigure } from "../repeat-figures";
import { RATIO_TARGETS, TARGETS, propagationRatios } from "./propagation-report";
import type { PropagationResults } from "./propagation-report";

const FIGURES: readonly RepeatFigure<PropagationResults>[] = [
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

/** Worst and median of each figure over the runs, each target judged on the worst run. */
export function formatPropagationRepeats(runs: readonly PropagationResults[]): string[] {
  return formatFigures(runs, FIGURES, 34);
}

/** The repeat summary as one JSON line: `{bench, runs, <figure>: {worst, median, all}}`. */
export function repeatJson(runs: readonly PropagationResults[]): string {
  return figuresJson("propagation-repeat", runs, FIGURES);
}
