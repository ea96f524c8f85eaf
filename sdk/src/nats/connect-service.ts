import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../logger";

/** How a Konorkestra process connects to NATS. */
export interface ServiceConnectOptions {
  servers: string[];
  /** Role of the process (`monitor`, `analytics`, `config-loader`, a service name). */
  role: string;
  /** Instance id within the role (monitor id, node id); names the connection `kon:<role>:<id>`. */
  id?: string;
  token?: string;
  user?: string;
  pass?: string;
  /** Timeout of one connection attempt. @default 2000 */
  timeoutMs?: number;
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
    token: opts.token,
    user: opts.user,
    pass: opts.pass,
  });
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
