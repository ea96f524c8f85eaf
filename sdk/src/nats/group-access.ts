import type { NatsConnection } from "@nats-io/transport-node";
import { KonError, KonErrorCode } from "../errors";
import { redactSecrets } from "../redact";
import type { WireNames } from "../wire/names";

/**
 * True when NATS refused an operation because the credential lacks the right: a "Permissions
 * Violation" for a publish or a subscription (nats.js `PermissionViolationError`, usually the
 * cause of a `RequestError`), or an authorization error, anywhere in the cause chain. Such an
 * error is a verdict on the credential, never an outage: retrying cannot help.
 */
export function isPermissionDenied(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (!(e instanceof Error)) return typeof e === "string" && /permission|authori[sz]/i.test(e);
    if (e.name === "PermissionViolationError" || /permission|authori[sz]/i.test(e.message)) {
      return true;
    }
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * The refusal of a credential that NATS admitted but that has no rights on `group`'s subjects:
 * a join key is for exactly one group, so this is a key of another group (or a credential scoped
 * elsewhere). `NATS_REFUSED`; names the group and the subject refused, never the credential.
 */
export function groupRefusedError(group: string, cause: unknown): KonError {
  const why = redactSecrets(cause instanceof Error ? cause.message : String(cause));
  return new KonError(
    KonErrorCode.NatsRefused,
    `NATS admitted this process's credential, but not to group '${group}': the credential is for another group (${why}). Use a join key of group '${group}' (kon group show ${group} lists its key ids), or set KON_GROUP to the key's group.`,
    { cause },
  );
}

/**
 * Checks that this connection may use `group` as a member does, with one request on the group's
 * subjects: the stream info of its config bucket, answered on the group's inbox. The server admits
 * any valid join key, whatever group the process says it is in, so without this a key of another
 * group connects and then fails on its first subscription.
 *
 * Resolves `"ok"` (or `"no-bucket"` when the group has no config bucket yet); rejects with
 * {@link groupRefusedError} (`NATS_REFUSED`) when a permission is missing, and with the request's
 * own error otherwise (no JetStream, a timeout: not a verdict on the credential).
 */
export async function checkGroupAccess(
  nc: NatsConnection,
  names: WireNames,
  group: string,
  timeoutMs = 5000,
): Promise<"ok" | "no-bucket"> {
  const subject = `$JS.API.STREAM.INFO.KV_${names.configBucket(group)}`;
  let answer: { error?: { code?: number; description?: string } };
  try {
    const msg = await nc.request(subject, undefined, { timeout: timeoutMs });
    answer = msg.json();
  } catch (err) {
    if (isPermissionDenied(err)) throw groupRefusedError(group, err);
    throw err;
  }
  if (!answer.error) return "ok";
  if (answer.error.code === 404) return "no-bucket";
  const refusal = new Error(answer.error.description ?? `error ${answer.error.code}`);
  if (isPermissionDenied(refusal)) throw groupRefusedError(group, refusal);
  throw refusal;
}
