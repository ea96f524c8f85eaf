import { readFileSync } from "node:fs";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";
import type { ConnectionOptions, NatsConnection } from "@nats-io/transport-node";
import { KonError, KonErrorCode } from "../errors";
import type { Logger } from "../logger";
import type { NatsAuth } from "../options/common-options";
export { describeServers } from "../redact";

/** How a Konorkestra process connects to NATS. */
export interface ServiceConnectOptions extends NatsAuth {
  servers: string[];
  /** Role of the process (`monitor`, `analytics`, `config-loader`, a service name). */
  role: string;
  /** Instance id within the role (monitor id, node id); names the connection `kon:<role>:<id>`. */
  id?: string;
  /** Timeout of one connection attempt. @default 2000 */
  timeoutMs?: number;
  /** Prefix of the connection's reply subjects; a scoped credential allows only its own. @default "_INBOX" */
  inboxPrefix?: string;
}

/** The connection name the server shows for a process: `kon:<role>` or `kon:<role>:<id>`. */
function connectionName(role: string, id?: string): string {
  return id ? `kon:${role}:${id}` : `kon:${role}`;
}

/**
 * Connects once, with the settings every Konorkestra process shares: after the first connect the
 * client reconnects forever (250 ms apart), so an outage of NATS never ends the process. Throws
 * when this first attempt fails; callers that must start while NATS is down retry it.
 */
export async function connectService(opts: ServiceConnectOptions): Promise<NatsConnection> {
  return connect({
    servers: opts.servers,
    name: connectionName(opts.role, opts.id),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    timeout: opts.timeoutMs ?? 2000,
    ...(opts.inboxPrefix ? { inboxPrefix: opts.inboxPrefix } : {}),
    ...credentialOptions(opts),
  });
}

/**
 * The nats.js options for one set of credentials: an nkey seed file (system services), a join key
 * (sent as the connection's token; the auth callout exchanges it for the group's rights), or a
 * plain token or user and password; plus TLS when a CA (and for mutual TLS a certificate) is set.
 */
export function credentialOptions(auth: NatsAuth): Partial<ConnectionOptions> {
  const out: Partial<ConnectionOptions> = {};
  if (auth.nkeySeedFile) {
    out.authenticator = nkeyAuthenticator(readSecretFile(auth.nkeySeedFile, "nkey seed"));
  } else if (auth.joinKey) {
    out.token = auth.joinKey;
  } else {
    if (auth.token) out.token = auth.token;
    if (auth.user) out.user = auth.user;
    if (auth.pass) out.pass = auth.pass;
  }
  if (auth.tlsCa || auth.tlsCert) {
    out.tls = {
      ...(auth.tlsCa ? { caFile: auth.tlsCa } : {}),
      ...(auth.tlsCert ? { certFile: auth.tlsCert, keyFile: auth.tlsKey } : {}),
    };
  }
  return out;
}

/** Reads a secret file, naming the file (never its content) when it cannot. */
function readSecretFile(path: string, what: string): Uint8Array {
  try {
    return new TextEncoder().encode(readFileSync(path, "utf8").trim());
  } catch (err) {
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
}

/**
 * Calls `onChange(false)` on each disconnect and `onChange(true)` on each reconnect, until the
 * connection closes. For /healthz and for re-syncing after an outage.
 */
export function watchConnection(nc: NatsConnection, onChange: (connected: boolean) => void): void {
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") onChange(false);
      else if (s.type === "reconnect") onChange(true);
    }
  })();
}

/** A logger whose lines start with `[<tag>]`, the one prefix format of every service's log. */
export function taggedLogger(logger: Logger, tag: string): Logger {
  const p = `[${tag}] `;
  return {
    info: (m) => logger.info(p + m),
    warn: (m) => logger.warn(p + m),
    error: (m) => logger.error(p + m),
  };
}
