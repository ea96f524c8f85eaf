import { CliError, ExitCode } from "../exit-codes";

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Reads a duration as people write it (`500ms`, `30s`, `10m`, `2h`, `7d`, `0`) into ms. */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m || (m[2] === undefined && Number(m[1]) !== 0)) {
    throw new CliError(ExitCode.Usage, `${option}: not a duration: ${JSON.stringify(text)}`, {
      hint: "write it as 500ms, 30s, 10m, 2h or 7d",
    });
  }
  return Math.round(Number(m[1]) * UNIT_MS[m[2] ?? "ms"]!);
}

/** The shortest `--interval` of a polling command: anything less hammers the service it asks. */
export const MIN_POLL_INTERVAL_MS = 100;

/** Reads a polling `--interval`: a duration of at least {@link MIN_POLL_INTERVAL_MS}. */
export function parsePollInterval(text: string, option = "--interval"): number {
  const ms = parseDuration(text, option);
  if (ms < MIN_POLL_INTERVAL_MS) {
    throw new CliError(ExitCode.Usage, `${option}: ${JSON.stringify(text)} is too short`, {
      hint: `poll at most every ${MIN_POLL_INTERVAL_MS}ms (e.g. 500ms, 2s)`,
    });
  }
  return ms;
}

/** A short human age: `42s`, `5m`, `3h`, `2d`. */
export function formatAge(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  if (ms < 60_000) return `${Math.floor(ms / 1000)}s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)}h`;
  return `${Math.floor(ms / 86_400_000)}d`;
}
