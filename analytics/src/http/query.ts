import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { z } from "zod";
import { EARLIEST_MS, LATEST_MS, isSaneTime } from "../model/time-window";

// The generic query rules (a 400 naming the parameter; repeated and unknown parameters refused;
// whole-number limits; group, node id and config key by the sdk's name rules, quoting at most 40
// characters of a refused value) live in the sdk's http-edge, shared with the monitor's API.
export {
  configKeyParam,
  groupParam,
  nodeParam,
  parseInput,
  strictQuery,
  wholeNumberParam,
} from "@konorkestra/sdk/internal";

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
