import type { ServerResponse } from "node:http";
import { AgentErrorCode, AgentHttpError, sendJson } from "./agent-http-error";
import { configReadError, queryParams, revisionParam, secondsParam } from "./agent-request";
import type { ConfigCatalog, ConfigView } from "./config-catalog";

/** Longest long-poll a client may ask for, in seconds. */
export const MAX_WAIT_S = 300;
/** Long-poll timeout when the client gives none, in seconds. */
export const DEFAULT_WAIT_S = 60;

/** Limits that keep one client from holding the agent. */
export interface WaitLimits {
  /** Long-polls and watch streams open at once; more get 503. */
  readonly maxWaiters: number;
}

/**
 * Counts open long-polls and watch streams so that a crowd of them is refused (503) rather than
 * holding sockets and timers without bound.
 */
export class WaiterGate {
  private open = 0;

  constructor(private readonly max: number) {}

  /** Takes a place until `res` closes; throws 503 when every place is taken. */
  enter(res: ServerResponse): void {
    if (this.open >= this.max) {
      throw new AgentHttpError(
        AgentErrorCode.Unavailable,
        `too many waiting clients (${this.max}); retry later`,
        { limit: this.max },
        { "retry-after": "1" },
      );
    }
    this.open++;
    res.once("close", () => this.open--);
  }

  get count(): number {
    return this.open;
  }
}

function headersOf(view: ConfigView): Record<string, string> {
  return { etag: `"${view.revision}"`, "kon-revision": String(view.revision) };
}

/**
 * `GET /v1/config/:key` — the value this host runs, with revision, sha256 and provenance.
 * `?wait=REV[&timeout=S]` — long-poll: answers as soon as the key's revision is above REV, or
 * after S seconds (default 60, at most 300) with 304 and the same revision in `Kon-Revision`.
 */
export async function getConfig(
  catalog: ConfigCatalog,
  gate: WaiterGate,
  key: string,
  url: URL,
  res: ServerResponse,
): Promise<void> {
  const q = queryParams(url, ["wait", "timeout"]);
  const waitRaw = q.get("wait");
  const timeoutRaw = q.get("timeout");
  if (waitRaw === undefined) {
    if (timeoutRaw !== undefined) {
      throw new AgentHttpError(AgentErrorCode.InvalidInput, "timeout is only for ?wait=REV", {
        parameter: "timeout",
      });
    }
    const view = await catalog.read(key).catch((err: unknown) => {
      throw configReadError(err);
    });
    return sendJson(res, 200, view, headersOf(view));
  }
  const after = revisionParam("wait", waitRaw);
  const seconds =
    timeoutRaw === undefined ? DEFAULT_WAIT_S : secondsParam("timeout", timeoutRaw, MAX_WAIT_S);
  gate.enter(res);
  const gone = new Promise<void>((r) => res.once("close", () => r()));
  const view = await catalog.waitNewer(key, after, seconds * 1000, gone).catch((err: unknown) => {
    throw configReadError(err);
  });
  if (res.destroyed) return;
  if (view) return sendJson(res, 200, view, headersOf(view));
  const current = await catalog.read(key).catch((err: unknown) => {
    throw configReadError(err);
  });
  res.writeHead(304, { ...headersOf(current), "cache-control": "no-store" });
  res.end();
}

/** `GET /v1/config` — every key of the group with its newest revision. */
export function listKeys(catalog: ConfigCatalog, url: URL, res: ServerResponse): void {
  queryParams(url, []);
  sendJson(res, 200, { keys: catalog.keys() });
}
