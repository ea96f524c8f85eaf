import { GROUP_NAME, assertConfigKey, assertNodeId } from "@konorkestra/sdk/internal";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { z } from "zod";
import { EARLIEST_MS, LATEST_MS, isSaneTime } from "../model/time-window";

/**
 * Validates request input with a zod schema; a failure is a KonError (QUERY_INVALID, HTTP 400)
 * naming the parameter and what is wrong with it.
 */
export function parseInput<S extends z.ZodType>(
  schema: S,
  input: unknown,
  where = "query parameter",
): z.output<S> {
  // `?a=1&a=2` arrives as an array: say so, rather than "expected string" or "expected one of".
  if (typeof input === "object" && input !== null) {
    const repeated = Object.keys(input).find((k) =>
      Array.isArray((input as Record<string, unknown>)[k]),
    );
    if (repeated !== undefined) {
      throw new KonError(
        KonErrorCode.QueryInvalid,
        `invalid ${where} ${repeated}: given more than once; give it once`,
      );
    }
  }
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.join(".") || "input";
  throw new KonError(KonErrorCode.QueryInvalid, `invalid ${where} ${field}: ${issue.message}`);
}

/** Rejects unknown query parameters too, so a typo (`?grup=`) is an error, not a silent no-op. */
export const strictQuery = <T extends z.ZodRawShape>(shape: T) => z.strictObject(shape);

/**
 * A whole number from `min` to `max` as decimal digits (a `limit`): anything else is "must be a
 * whole number", "at least <min>" or "at most <max>", also for a number too large for a double.
 */
export function wholeNumberParam(min: number, max: number) {
  return z.string().transform((v, ctx) => {
    if (!/^\d+$/.test(v)) {
      ctx.addIssue({ code: "custom", message: "must be a whole number" });
      return z.NEVER;
    }
    const n = v.length > 15 ? Infinity : Number(v);
    if (n < min || n > max) {
      ctx.addIssue({ code: "custom", message: n < min ? `at least ${min}` : `at most ${max}` });
      return z.NEVER;
    }
    return n;
  });
}

export const groupParam = z
  .string()
  .regex(GROUP_NAME, "use 1-63 of [a-z0-9-], starting with a letter or digit");

export const nodeParam = z.string().superRefine((v, ctx) => {
  try {
    assertNodeId(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : String(err) });
  }
});

export const configKeyParam = z.string().superRefine((v, ctx) => {
  try {
    assertConfigKey(v);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: err instanceof Error ? err.message : String(err) });
  }
});

/**
 * A time as ISO 8601 or as milliseconds since the epoch, between 1970 and 2100 (see
 * model/time-window): anything else is a 400 naming the parameter, never a database error.
 */
export const timeParam = z.string().transform((v, ctx) => {
  const ms = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (Number.isNaN(ms)) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(v)} is not an ISO 8601 time or epoch milliseconds`,
    });
    return z.NEVER;
  }
  if (!isSaneTime(ms)) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)} is outside ${new Date(EARLIEST_MS).toISOString()} to ${new Date(LATEST_MS).toISOString()}`,
    });
    return z.NEVER;
  }
  return ms;
});

/** Windows the API offers. */
export const WINDOWS = {
  "1h": 3_600_000,
  "24h": 86_400_000,
  "7d": 604_800_000,
  "30d": 2_592_000_000,
} as const;
export const windowParam = z.enum(
  Object.keys(WINDOWS) as [keyof typeof WINDOWS, ...(keyof typeof WINDOWS)[]],
);

export const boolParam = z
  .enum(["true", "false", "1", "0"])
  .transform((v) => v === "true" || v === "1");

/** Checks from < to and that the span is not absurd. */
export function checkRange(fromMs: number, toMs: number, maxMs = 400 * 86_400_000): void {
  if (fromMs >= toMs) {
    throw new KonError(
      KonErrorCode.QueryInvalid,
      "invalid query parameter from: must be before to",
    );
  }
  if (toMs - fromMs > maxMs) {
    throw new KonError(
      KonErrorCode.QueryInvalid,
      `invalid query parameter from: range longer than ${Math.round(maxMs / 86_400_000)} days`,
    );
  }
}
