import { CliError, ExitCode } from "../exit-codes";

/** Milliseconds, 100 to 3,600,000. */
export function parseMs(raw: string, flag: string): number {
  const n = /^\d{1,7}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 100 && n <= 3_600_000)) {
    throw new CliError(
      ExitCode.Usage,
      `invalid ${flag} ${JSON.stringify(raw)}: use 100-3600000 ms`,
    );
  }
  return n;
}
