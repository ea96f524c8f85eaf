import { parseArgs } from "node:util";
import type { z } from "zod";
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
