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
