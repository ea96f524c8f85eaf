import { InvalidNameError, KonError, KonErrorCode } from "@konorkestra/sdk";
import { AgentErrorCode, AgentHttpError } from "./agent-http-error";

/**
 * The query parameters of a request, refusing any the route does not know and any given twice:
 * a typo (`?wiat=12`) must not silently become a plain read.
 */
export function queryParams(url: URL, allowed: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (!allowed.includes(name)) {
      const known = allowed.length ? allowed.join(", ") : "none";
      throw new AgentHttpError(
        AgentErrorCode.InvalidInput,
        `unknown query parameter ${JSON.stringify(name)} (this route takes: ${known})`,
        { parameter: name },
      );
    }
    if (out.has(name)) {
      throw new AgentHttpError(AgentErrorCode.InvalidInput, `query parameter ${name} given twice`, {
        parameter: name,
      });
    }
    out.set(name, value);
  }
  return out;
}

/** A revision: decimal digits only (`0x10`, `1e3`, `-1` are refused, never guessed). */
export function revisionParam(name: string, raw: string): number {
  if (!/^\d{1,15}$/.test(raw)) {
    throw new AgentHttpError(
      AgentErrorCode.InvalidInput,
      `invalid ${name} ${JSON.stringify(raw)}: use a revision, in decimal digits`,
      { parameter: name },
    );
  }
  return Number(raw);
}

/** Seconds, `0 < s <= max`, decimals allowed (`0.5`). */
export function secondsParam(name: string, raw: string, max: number): number {
  const s = /^\d{1,6}(\.\d{1,3})?$/.test(raw) ? Number(raw) : NaN;
  if (!(s > 0 && s <= max)) {
    throw new AgentHttpError(
      AgentErrorCode.InvalidInput,
      `invalid ${name} ${JSON.stringify(raw)}: use seconds, more than 0 and at most ${max}`,
      { parameter: name },
    );
  }
  return s;
}

/** One decoded path segment (a config key or node id). */
export function pathSegment(raw: string, what: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new AgentHttpError(AgentErrorCode.InvalidInput, `invalid ${what}: bad percent-encoding`);
  }
  return decoded;
}

/** The agent's answer to an SDK error on a config read. */
export function configReadError(err: unknown): unknown {
  if (err instanceof InvalidNameError) {
    return new AgentHttpError(AgentErrorCode.InvalidInput, err.message, { [err.kind]: err.value });
  }
  if (!(err instanceof KonError)) return err;
  switch (err.code) {
    case KonErrorCode.ConfigNotFound:
      return new AgentHttpError(AgentErrorCode.NotFound, err.message);
    case KonErrorCode.ConfigUnavailable:
    case KonErrorCode.ConfigInvalid:
    case KonErrorCode.Closed:
      return new AgentHttpError(
        AgentErrorCode.Unavailable,
        err.message,
        {},
        { "retry-after": "1" },
      );
    default:
      return err;
  }
}
