import { EdgeCode, edgeRefusal } from "./edge-refusal";
import type { EdgeRefusal } from "./edge-refusal";

/** Loopback names a browser on the same machine uses; always allowed with the service's port. */
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "[::1]"];
/** `name` or `name:port`; names are DNS names, IPv4 literals or bracketed IPv6 literals. */
const HOST_ENTRY = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?)(:(\d{1,5}))?$/;

/** One allowed name, and its port (undefined: any port). */
interface HostEntry {
  name: string;
  port: number | undefined;
}

/**
 * Which `Host` headers a service answers, against DNS rebinding: a web page on an attacker's
 * domain that re-points its name at 127.0.0.1 still sends `Host: attacker.example`, so a request
 * whose Host is not one of the service's own names is refused before any route runs.
 *
 * Allowed: `localhost`, `127.0.0.1` and `[::1]` on the port the request came in on (a loopback
 * name cannot be rebound), plus the configured entries (`KON_HTTP_ALLOWED_HOSTS`): `name` (any
 * port, e.g. behind a reverse proxy) or `name:port`. `*` allows every Host (turns the check off).
 */
export class HostAllowList {
  private readonly entries: HostEntry[];
  private readonly any: boolean;

  /** Throws an Error naming the bad entry. */
  constructor(configured: readonly string[] = []) {
    this.any = configured.includes("*");
    this.entries = configured.filter((e) => e !== "*").map(parseHostEntry);
  }

  /**
   * True when `host` (the request's Host header) names this service. `localPort` is the port
   * the connection arrived on (`req.socket.localPort`).
   */
  allows(host: string | undefined, localPort: number | undefined): boolean {
    if (this.any) return true;
    const given = parseHostHeader(host);
    if (!given) return false;
    // A Host without a port means the scheme's default port.
    const port = given.port ?? 80;
    if (LOOPBACK_NAMES.includes(given.name) && port === localPort) return true;
    return this.entries.some(
      (e) => e.name === given.name && (e.port === undefined || e.port === port),
    );
  }

  /** The refusal for a request {@link allows} said no to, or undefined to go on. */
  check(host: string | undefined, localPort: number | undefined): EdgeRefusal | undefined {
    if (this.allows(host, localPort)) return undefined;
    // 421 Misdirected Request: this server is not the one that name is meant for. The Host
    // given is not echoed (it is attacker-chosen text).
    return edgeRefusal(
      421,
      EdgeCode.HostNotAllowed,
      "the Host header does not name this service; add the name to KON_HTTP_ALLOWED_HOSTS",
    );
  }
}

function parseHostEntry(raw: string): HostEntry {
  const parsed = parseHostHeader(raw);
  if (!parsed) {
    throw new Error(
      `invalid allowed host ${JSON.stringify(raw)}: use a name or name:port (e.g. konorkestra.example.com:443, [::1]:7003)`,
    );
  }
  return parsed;
}

/** Name (lower-case, no trailing dot) and port of a Host header; undefined when malformed. */
function parseHostHeader(host: string | undefined): HostEntry | undefined {
  if (host === undefined) return undefined;
  const m = HOST_ENTRY.exec(
    host
      .trim()
      .toLowerCase()
      .replace(/\.(?=(:\d+)?$)/, ""),
  );
  if (!m) return undefined;
  const port = m[4] === undefined ? undefined : Number(m[4]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { name: m[1]!, port };
}
