/**
 * What analytics says about a failure outside its log: in `/healthz` (which needs no token), in
 * `/v1/pipeline`, and in a 500's body. A PostgreSQL error's text can quote stored data or a
 * query's input, and a NATS or PostgreSQL URL can carry a user and password, so outside the
 * log a failure is named by its kind and code only, with credentials in any URL removed. The log
 * gets the full text (redacted of credentials too).
 */

import { redactSecrets } from "@konorkestra/sdk/internal";

export { redactSecrets };

/**
 * A short public description of a failure: `PostgreSQL error 57P01` for a database error (its
 * SQLSTATE, never its message), the system error code and its redacted message for a network
 * failure (`ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:5432`), otherwise the redacted message.
 */
export function failureText(err: unknown): string {
  if (!(err instanceof Error)) return redactSecrets(String(err)).slice(0, 200);
  const e = err as Error & { code?: unknown; severity?: unknown };
  if (typeof e.severity === "string" && typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code))
    return `PostgreSQL error ${e.code}`;
  return redactSecrets(e.message).slice(0, 200);
}
