import { formatRepeats, summarizeRepeats } from "./bench-flags";
import type { RepeatSummary } from "./bench-flags";

/** One figure a benchmark reports over repeated runs of results `R`. */
export interface RepeatFigure<R> {
  readonly key: string;
  readonly label: string;
  readonly unit: string;
  /** Which way is bad. */
  readonly worse: "higher" | "lower";
  readonly of: (r: R) => number | null | undefined;
  /** The target the worst run is judged against, if the figure has one. */
  readonly limit?: number;
}

/** Worst and median of every figure some run measured (a run without it counts as NaN). */
export function summarizeFigures<R>(
  runs: readonly R[],
  figures: readonly RepeatFigure<R>[],
): [RepeatFigure<R>, RepeatSummary][] {
  return figures.flatMap((f) => {
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

/**
 * One line per figure: label, worst / median over the runs, and the target judged on the worst
 * run. `digits` picks the decimals per figure.
 */
export function formatFigures<R>(
  runs: readonly R[],
  figures: readonly RepeatFigure<R>[],
  labelWidth: number,
  digits: (f: RepeatFigure<R>) => number = () => 2,
): string[] {
  return summarizeFigures(runs, figures).map(([f, s]) => {
    let verdict = "";
    if (f.limit !== undefined) {
      const sign = f.worse === "higher" ? "<=" : ">=";
      const met = f.worse === "higher" ? s.worst <= f.limit : s.worst >= f.limit;
      verdict = `  (target ${sign} ${f.limit}${f.unit === "x" ? "" : ` ${f.unit}`}: ${met ? "met" : "MISSED"} in the worst run)`;
    }
    return `  ${f.label.padEnd(labelWidth)} ${formatRepeats(s, f.unit === "x" ? "" : f.unit, digits(f))}${verdict}`;
  });
}

/** The summary as one JSON line: `{bench, runs, <figure key>: {worst, median, all}}`. */
export function figuresJson<R>(
  bench: string,
  runs: readonly R[],
  figures: readonly RepeatFigure<R>[],
): string {
  const out: Record<string, unknown> = { bench, runs: runs.length };
  const r2 = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 100) / 100 : null);
  for (const [f, s] of summarizeFigures(runs, figures)) {
    out[f.key] = { worst: r2(s.worst), median: r2(s.median), all: s.all.map(r2) };
  }
  return JSON.stringify(out);
}
