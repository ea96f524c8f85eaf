import { createServer } from "node:http";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { HeartbeatHandle, Konorkestra, Logger } from "@konorkestra/sdk";
import { AgentErrorCode, AgentHttpError, sendError, sendJson } from "./agent-http-error";
import { pathSegment, queryParams } from "./agent-request";
import { ConfigCatalog } from "./config-catalog";
import { WaiterGate, getConfig, listKeys } from "./config-routes";
import { HeartbeatRelay } from "./heartbeat-relay";
import { listenUnix } from "./unix-socket";
import type { BoundSocket, SocketAccess } from "./unix-socket";
import { watchStream } from "./watch-stream";

/** What a running agent needs: its SDK connection (group and node) and where to listen. */
export interface AgentSpec {
  readonly kon: Konorkestra;
  readonly socketPath: string;
  readonly access: SocketAccess;
  /** The agent's own heartbeat period. @default 1000 */
  readonly heartbeatIntervalMs?: number;
  /** Long-polls and watch streams open at once. @default 1000 */
  readonly maxWaiters?: number;
  /**
   * Time a client has to send its whole request, headers and body; a slower or stalled one gets
   * 408 and is disconnected (checked every second). @default 10000
   */
  readonly requestTimeoutMs?: number;
  readonly logger: Logger;
}

/** See {@link AgentSpec.requestTimeoutMs}. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

/** A running `kon agent`. */
export interface Agent {
  readonly socketPath: string;
  /** Stops serving, ends its heartbeat with a leaving beat and closes the SDK connection. */
  stop(): Promise<void>;
}

/**
 * Starts the agent: loads the group's config through the SDK, starts its heartbeat, and serves
 * HTTP on the Unix socket. Each request is handled on its own: a bad one gets its 4xx and
 * touches nothing another client sees.
 */
export async function startAgent(spec: AgentSpec): Promise<Agent> {
  const { kon, logger } = spec;
  const catalog = new ConfigCatalog(kon);
  await catalog.start();
  const own = kon.heartbeat({ intervalMs: spec.heartbeatIntervalMs ?? 1000 });
  const relay = new HeartbeatRelay(
    kon,
    own,
    (key, revision) => {
      const ap = kon.applied.get(key);
      return ap?.revision === revision ? ap.sha256 : "";
    },
    logger,
  );
  const gate = new WaiterGate(spec.maxWaiters ?? 1000);
  const link = followLink(kon);
  const routes: Routes = { kon, catalog, gate, relay, own, link, startedAt: Date.now() };
  const requestTimeout = spec.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const server: Server = createServer(
    {
      // A client dribbling its headers or body would hold a connection (and a body buffer)
      // forever. These bound receiving the request only: once it is in, a long-poll or watch
      // stream may wait its 300 s. Node checks them every connectionsCheckingInterval.
      requestTimeout,
      headersTimeout: requestTimeout,
      connectionsCheckingInterval: Math.min(1_000, requestTimeout),
      keepAliveTimeout: 5_000,
    },
    (req, res) => {
      route(routes, req, res).catch((err: unknown) => {
        if (!(err instanceof AgentHttpError) && !req.destroyed)
          logger.error(`${req.method} ${req.url}: ${String(err)}`);
        sendError(res, err);
      });
    },
  );
  let socket: BoundSocket;
  try {
    socket = await listenUnix(server, spec.socketPath, spec.access);
  } catch (err) {
    catalog.stop();
    throw err;
  }
  return {
    socketPath: spec.socketPath,
    stop: async () => {
      catalog.stop();
      await socket.close();
      await kon.close();
    },
  };
}

interface Routes {
  readonly kon: Konorkestra;
  readonly catalog: ConfigCatalog;
  readonly gate: WaiterGate;
  readonly relay: HeartbeatRelay;
  readonly own: HeartbeatHandle;
  readonly link: { online: boolean };
  readonly startedAt: number;
}

/**
 * Whether the SDK's connection is up now: it reconnects by itself, and while it does the agent
 * serves the last values it has, which `/healthz` says.
 */
function followLink(kon: Konorkestra): { online: boolean } {
  const link = { online: kon.connection !== undefined };
  const nc = kon.connection;
  if (!nc) return link;
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect") link.online = false;
      else if (s.type === "reconnect") link.online = true;
      else if (s.type === "close") {
        link.online = false;
        break;
      }
    }
  })();
  return link;
}

const CONFIG_KEY_PATH = /^\/v1\/config\/([^/]+)$/;

async function route(r: Routes, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? "/", "http://kon");
  const path = url.pathname;
  const method = req.method ?? "GET";
  const keyMatch = CONFIG_KEY_PATH.exec(path);
  if (keyMatch) {
    only(method, ["GET"]);
    return getConfig(r.catalog, r.gate, pathSegment(keyMatch[1]!, "config key"), url, res);
  }
  switch (path) {
    case "/v1/config":
      only(method, ["GET"]);
      return listKeys(r.catalog, url, res);
    case "/v1/watch":
      only(method, ["GET"]);
      return watchStream(r.catalog, r.gate, url, req, res);
    case "/v1/heartbeat":
      only(method, ["POST"]);
      queryParams(url, []);
      return r.relay.handle(req, res);
    case "/healthz":
      only(method, ["GET"]);
      return health(r, res);
    default:
      throw new AgentHttpError(AgentErrorCode.NotFound, `no route ${path}`, {
        routes: ["/v1/config", "/v1/config/:key", "/v1/watch", "/v1/heartbeat", "/healthz"],
      });
  }
}

function only(method: string, allowed: string[]): void {
  if (allowed.includes(method)) return;
  throw new AgentHttpError(
    AgentErrorCode.MethodNotAllowed,
    `use ${allowed.join(" or ")}, not ${method}`,
    {},
    { allow: allowed.join(", ") },
  );
}

/** 200 while connected to NATS, 503 while not (the config served is then the last known). */
function health(r: Routes, res: ServerResponse): void {
  const nc = r.kon.connection;
  const online = r.link.online && nc !== undefined && !nc.isClosed();
  sendJson(res, online ? 200 : 503, {
    status: online ? "ok" : "offline",
    group: r.kon.group,
    node: r.kon.nodeId,
    keys: r.catalog.keys().length,
    heartbeatSeq: r.own.seq,
    waiting: r.gate.count,
    uptimeMs: Date.now() - r.startedAt,
  });
}
