import { parseArgs } from "node:util";
import { z } from "zod";
import { KonError, KonErrorCode } from "@konorkestra/sdk";

/**
 * Parses a benchmark's command line: `strings` take a value, `booleans` are switches, `-h/--help`
 * is always there. Values are then checked by `schema`; a bad flag is a KonError that names it
 * and carries the usage text.
 */
export function parseBenchFlags<S extends z.ZodType>(
  args: readonly string[],
  flags: { strings: readonly string[]; booleans: readonly string[] },
  schema: S,
  usage: string,
): z.output<S> {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      args: [...args],
      options: {
        ...Object.fromEntries(flags.strings.map((n) => [n, { type: "string" as const }])),
        ...Object.fromEntries(flags.booleans.map((n) => [n, { type: "boolean" as const }])),
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new KonError(KonErrorCode.InvalidOptions, `${(err as Error).message}\n${usage}`);
  }
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `invalid flag --${issue.path.join(".")}: ${issue.message}\n${usage}`,
    );
  }
  return parsed.data;
}

/**
 * The start of every benchmark's main: parse argv, print a bad flag's error (exit code 2) or the
 * usage for --help (exit code 0). Returns the options, or the exit code to end with.
 */
export function benchOptions<O extends { help?: boolean }>(
  parse: (args: readonly string[]) => O,
  usage: string,
): O | number {
  let o: O;
  try {
    o = parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  return o;
}

/** The shared `--repeat N` flag: its name for `parseBenchFlags`' strings, and its usage line. */
export const REPEAT_FLAG = "repeat";
export const REPEAT_USAGE =
  "  --repeat N          run each case N times, report the worst and the median run (default 1)";

/** Zod piece of `--repeat`: spread into a benchmark's flag schema (1 to 100 runs, default 1). */
export const repeatShape = {
  repeat: z.coerce.number().int().min(1).max(100).default(1),
};

/**
 * Runs a case `times` times, one after the other (never in parallel: runs would share the
 * machine and measure each other), and returns every run's result in order. `onRun` sees each
 * result as it comes, so a long series prints as it goes.
 */
export async function repeatCase<T>(
  times: number,
  run: (index: number) => Promise<T>,
  onRun?: (result: T, index: number) => void,
): Promise<T[]> {
  const results: T[] = [];
  for (let i = 0; i < times; i++) {
    const r = await run(i);
    onRun?.(r, i);
    results.push(r);
  }
  return results;
}

/** One figure over the runs of a repeated case. */
export interface RepeatSummary {
  readonly runs: number;
  /** The worst run's figure. */
  readonly worst: number;
  /** The median run's figure; with an even count, the worse of the two middle runs. */
  readonly median: number;
  /** Every run's figure in run order. */
  readonly all: readonly number[];
}

/**
 * Worst and median of one figure over repeated runs. `worse` says which way is bad: "higher" for
 * latencies and misses, "lower" for throughput and ratios where more is better. Both figures are
 * runs that really happened (no averaging), and an even count takes the worse middle run, so a
 * lucky run cannot stand for the system. NaN (a run that measured nothing) counts as the worst.
 */
export function summarizeRepeats(
  values: readonly number[],
  worse: "higher" | "lower" = "higher",
): RepeatSummary {
  if (values.length === 0) return { runs: 0, worst: NaN, median: NaN, all: [] };
  const badness = (v: number): number => (Number.isNaN(v) ? Infinity : worse === "higher" ? v : -v);
  const bestFirst = [...values].sort((a, b) => badness(a) - badness(b));
  return {
    runs: values.length,
    worst: bestFirst[bestFirst.length - 1]!,
    median: bestFirst[Math.floor(bestFirst.length / 2)]!,
    all: [...values],
  };
}

/** `worst 4.2 / median 3.1 ms over 5 runs [3.0, 3.1, …]`, or the single figure for one run. */
export function formatRepeats(s: RepeatSummary, unit = "", digits = 1): string {
  const f = (v: number): string => (Number.isNaN(v) ? "n/a" : v.toFixed(digits));
  const u = unit ? ` ${unit}` : "";
  if (s.runs <= 1) return `${f(s.worst)}${u}`;
  return `worst ${f(s.worst)} / median ${f(s.median)}${u} over ${s.runs} runs [${s.all.map(f).join(", ")}]`;
}
