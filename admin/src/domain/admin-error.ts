/**
 * Stable codes of the admin API's errors; each maps to one HTTP status (http/http-error.ts).
 * They survive a trip through an HTTP body, so clients match on `code`, never on message text.
 */
export const AdminErrorCode = {
  InvalidInput: "INVALID_INPUT",
  Unauthorized: "UNAUTHORIZED",
  Forbidden: "FORBIDDEN",
  NotFound: "NOT_FOUND",
  Conflict: "CONFLICT",
  /** Well-formed but refused on its merits (a value failing a registered schema). */
  Unprocessable: "UNPROCESSABLE",
  PayloadTooLarge: "PAYLOAD_TOO_LARGE",
  RateLimited: "RATE_LIMITED",
  Unavailable: "UNAVAILABLE",
  Internal: "INTERNAL",
} as const;
export type AdminErrorCode = (typeof AdminErrorCode)[keyof typeof AdminErrorCode];

/** An error the admin service answers with on purpose. Messages never carry secrets. */
export class AdminError extends Error {
  constructor(
    readonly code: AdminErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    /** For RATE_LIMITED: when to try again. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = "AdminError";
  }
}

/** The one answer to a failed sign-in, whatever failed (unknown admin, wrong password). */
export const BAD_CREDENTIALS = (): AdminError =>
  new AdminError(AdminErrorCode.Unauthorized, "email or password is wrong");

/** The one answer to a sign-up token that is wrong, used, expired or no longer accepted. */
export const BAD_SIGNUP_TOKEN = (): AdminError =>
  new AdminError(AdminErrorCode.Unauthorized, "the sign-up token is not valid");

/** A rate limit hit. */
export function rateLimited(retryAfterMs: number): AdminError {
  return new AdminError(
    AdminErrorCode.RateLimited,
    "too many attempts; try again later",
    { retryAfterMs },
    retryAfterMs,
  );
}
