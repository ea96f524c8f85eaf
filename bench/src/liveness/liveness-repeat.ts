import { formatRepeats, summarizeRepeats } from "../bench-flags";
import type { RowKey } from "./case-driver";
import type { RowResult } from "./run-case";

/** Each monitor row and the raw baseline its ratio is taken against, run by run. */
const BASELINE_OF: Partial<Record<RowKey, RowKey>> = { nats: "raw_nats", redis: "raw_redis" };

/** The runs of one row key, in run order. */
function rowRuns(runs: readonly (readonly RowResult[])[], key: RowKey): RowResult[] {
  return runs.flatMap((rows) => rows.filter((r) => r.spec.key === key));
}

/** CPU of every monitor process of a row (several when monitors share the fleet). */
export function monitorCores(r: RowResult): number[] {
  return Object.entries(r.usage)
    .filter(([name]) => name === "monitor" || name.startsWith("monitor-"))
    .map(([, u]) => u.cores);
}

/** Per row: p99, the busiest monitor's CPU, misses and false downs over the runs; ratios per run. */
export function formatRepeatSummary(runs: readonly (readonly RowResult[])[]): string[] {
  const keys = [...new Set(runs.flatMap((rows) => rows.map((r) => r.spec.key)))];
  const out: string[] = [];
  for (const key of keys) {
    const rows = rowRuns(runs, key);
    const label = rows[0]!.spec.label;
    out.push(`  ${label}:`);
    out.push(
      `    p99 ${formatRepeats(summarizeRepeats(rows.map((r) => r.detection.delay.p99)), "ms")}`,
    );
    out.push(
      `    p50 ${formatRepeats(summarizeRepeats(rows.map((r) => r.detection.delay.p50)), "ms")}`,
    );
    const cores = rows.map((r) => Math.max(...monitorCores(r)));
    if (cores.every(Number.isFinite)) {
      out.push(`    busiest monitor CPU ${formatRepeats(summarizeRepeats(cores), "cores", 2)}`);
    }
    const sum = (f: (r: RowResult) => number): number => rows.reduce((a, r) => a + f(r), 0);
    out.push(
      `    over ${rows.length} runs: missed ${sum((r) => r.detection.missed)}, false positives ` +
        `${sum((r) => r.detection.falsePositives)}, duplicate downs ` +
        `${sum((r) => r.detection.duplicates)}, invalid runs ${rows.filter((r) => r.problems.length > 0).length}`,
    );
    const base = BASELINE_OF[key];
    const ratios = base ? ratiosOf(runs, key, base) : [];
    if (ratios.length > 0) {
      out.push(
        `    ${base} p99 / monitor p99, per run: ${formatRepeats(summarizeRepeats(ratios, "lower"), "x", 2)}`,
      );
    }
  }
  return out;
}

/** baseline p99 / monitor p99 of each run that has both rows. */
function ratiosOf(runs: readonly (readonly RowResult[])[], key: RowKey, base: RowKey): number[] {
  return runs.flatMap((rows) => {
    const m = rows.find((r) => r.spec.key === key);
    const b = rows.find((r) => r.spec.key === base);
    return m && b ? [b.detection.delay.p99 / m.detection.delay.p99] : [];
  });
}

/** Worst and median figures of a repeated run, for the final JSON line. */
export function repeatJson(runs: readonly (readonly RowResult[])[]): Record<string, unknown> {
  const json: Record<string, unknown> = { repeat: runs.length };
  const keys = [...new Set(runs.flatMap((rows) => rows.map((r) => r.spec.key)))];
  const r2 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
  for (const key of keys) {
    const rows = rowRuns(runs, key);
    const p99 = summarizeRepeats(rows.map((r) => r.detection.delay.p99));
    json[`${key}_detect_p99_ms_worst`] = r2(p99.worst);
    json[`${key}_detect_p99_ms_median`] = r2(p99.median);
    json[`${key}_detect_p99_ms_all`] = p99.all.map(r2);
    const cores = rows.map((r) => Math.max(...monitorCores(r)));
    if (cores.every(Number.isFinite)) {
      const c = summarizeRepeats(cores);
      json[`${key}_monitor_cpu_cores_worst`] = r2(c.worst);
      json[`${key}_monitor_cpu_cores_median`] = r2(c.median);
    }
    json[`${key}_missed_total`] = rows.reduce((a, r) => a + r.detection.missed, 0);
    json[`${key}_false_positives_total`] = rows.reduce((a, r) => a + r.detection.falsePositives, 0);
    json[`${key}_duplicate_downs_total`] = rows.reduce((a, r) => a + r.detection.duplicates, 0);
    const base = BASELINE_OF[key];
    const ratios = base ? ratiosOf(runs, key, base) : [];
    if (base && ratios.length > 0) {
      const s = summarizeRepeats(ratios, "lower");
      json[`${base}_over_${key}_p99_worst`] = r2(s.worst);
      json[`${base}_over_${key}_p99_median`] = r2(s.median);
    }
  }
  return json;
}
