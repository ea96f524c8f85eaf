import { describeServers, redactSecrets } from "./redact";
import { KonError, KonErrorCode } from "./errors";

/** A failed attempt to connect, in words a service's operator can act on. */
export interface ConnectFailure {
  /** Why, without credentials: `connection refused (ECONNREFUSED)`, `Authorization Violation`. */
  readonly why: string;
  /**
   * True when retrying cannot help: the server refused the credentials, TLS failed, or an
   * option is wrong (an unreadable seed file).
   */
  readonly permanent: boolean;
  /**
   * True when the server answered and refused this process's credential (an authorization
   * violation: a wrong, revoked or expired join key, token, nkey or password). Retrying the same
   * credential cannot help, and the fix is the credential, not the network.
   */
  readonly refused: boolean;
  /** What to check, for a permanent failure. */
  readonly hint: string;
}

const TLS_CODES =
  /^(UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|CERT_|ERR_TLS_|ERR_SSL_|ERR_OSSL_|HOSTNAME_MISMATCH)/;

/** Names what went wrong with one connection attempt (nats.js error, with its Node cause). */
export function describeConnectFailure(err: unknown): ConnectFailure {
  if (err instanceof KonError) {
    return { why: err.message, permanent: true, refused: false, hint: "fix the option it names" };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const cause = (e as { cause?: unknown }).cause as NodeJS.ErrnoException | undefined;
  const code = typeof cause?.code === "string" ? cause.code : "";
  const why = redactSecrets(
    code && !e.message.includes(code) ? `${e.message} (${code})` : e.message,
  );
  if (
    /AuthorizationError|UserAuthenticationExpired/.test(e.name) ||
    /authori[sz]ation/i.test(why)
  ) {
    return {
      why,
      permanent: true,
      refused: true,
      hint: "check this process's credentials (KON_JOIN_KEY, KON_NKEY_SEED_FILE, KON_TOKEN or KON_USER and KON_PASSWORD)",
    };
  }
  if (TLS_CODES.test(code) || /certificate|\bTLS\b|\bSSL\b/i.test(why)) {
    return {
      why,
      permanent: true,
      refused: false,
      hint: "check KON_TLS_CA (and KON_TLS_CERT, KON_TLS_KEY for mutual TLS) and the server's name in KON_SERVERS",
    };
  }
  return { why, permanent: false, refused: false, hint: "" };
}

/** The servers as they may be shown: a user and password in a URL become `***`. */
export const displayServers = describeServers;

/**
 * The error `connect` rejects with when it gives up on NATS: where (the servers), why (the last
 * attempt's failure), and what now (`next`). `NATS_REFUSED` when the server refused the
 * credential, else `NATS_UNREACHABLE` (no answer, or TLS failed before any credential was seen).
 */
export function natsConnectError(
  servers: readonly string[],
  waitedMs: number,
  failure: ConnectFailure | undefined,
  next: string,
): KonError {
  const where = `NATS at ${displayServers(servers)} (KON_SERVERS or option servers)`;
  const what = failure?.permanent
    ? `${where} refused this process: ${failure.why}; ${failure.hint}`
    : `cannot reach ${where} within ${waitedMs} ms: ${failure?.why ?? "no answer"}`;
  const code = failure?.refused ? KonErrorCode.NatsRefused : KonErrorCode.NatsUnreachable;
  return new KonError(code, `${what}. ${next}`);
}
