/**
 * `kon`'s exit codes, documented in cli/README.md. Scripts match on these, so they never change
 * meaning.
 */
export const ExitCode = {
  Ok: 0,
  /** The command ran and failed (bad input to the service, a server error). */
  Failed: 1,
  /** The command line itself is wrong (unknown command, missing or malformed argument). */
  Usage: 2,
  /** What was asked for does not exist (group, key, revision, node). */
  NotFound: 3,
  /** Refused by a rule or a credential, or a conflict (401, 403, 409, a strong write refused). */
  Refused: 4,
  /** A server could not be reached (admin, analytics, monitor, NATS, the agent socket). */
  Unreachable: 5,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error `kon` reports and exits with: what failed, where (the server or file it concerns) and
 * why, plus the exit code. Commands throw it; the program prints it once and exits.
 */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    readonly details?: { where?: string; code?: string; hint?: string },
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "CliError";
  }
}
