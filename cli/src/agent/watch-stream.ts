import type { IncomingMessage, ServerResponse } from "node:http";
import { assertConfigKey } from "@konorkestra/sdk/internal";
import { AgentErrorCode, AgentHttpError } from "./agent-http-error";
import { configReadError, queryParams, revisionParam } from "./agent-request";
import type { ConfigCatalog, ConfigView } from "./config-catalog";
import type { WaiterGate } from "./config-routes";

/** How long a client waits before it reconnects (the stream's `retry:`), in ms. */
export const RETRY_MS = 2000;
/** A comment line this often keeps proxies from closing an idle stream and finds dead clients. */
const KEEPALIVE_MS = 15_000;

/**
 * `GET /v1/watch[?keys=a,b]` — server-sent events, one `config` event per applied change of the
 * selected keys (every key of the group without `keys`). Each event's `id` is the change's
 * revision and its data the same view as `GET /v1/config/:key`. A new stream starts with the
 * current view of every selected key; a reconnect with `Last-Event-ID: REV` (or `?since=REV`)
 * gets only the keys that changed after REV, then the live changes. Intermediate revisions of a
 * key are not replayed: the agent keeps current values, not history.
 */
export async function watchStream(
  catalog: ConfigCatalog,
  gate: WaiterGate,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const q = queryParams(url, ["keys", "since"]);
  const keys = selectedKeys(q.get("keys"));
  const since = resumeRevision(q.get("since"), req.headers["last-event-id"]);
  gate.enter(res);
  const sent = new Map<string, number>();
  const send = (view: ConfigView): void => {
    if (res.destroyed || view.revision <= (sent.get(view.key) ?? since)) return;
    sent.set(view.key, view.revision);
    res.write(`id: ${view.revision}\nevent: config\ndata: ${JSON.stringify(view)}\n\n`);
  };
  // Live changes are taken from now on; the initial views below skip what they already sent.
  const queued: ConfigView[] = [];
  let live = false;
  const unsubscribe = catalog.subscribe(keys, (v) => (live ? send(v) : queued.push(v)));
  res.once("close", unsubscribe);
  let initial: ConfigView[];
  try {
    initial = await initialViews(catalog, keys);
  } catch (err) {
    unsubscribe();
    throw configReadError(err);
  }
  const keepalive = setInterval(() => res.write(": keepalive\n\n"), KEEPALIVE_MS);
  keepalive.unref();
  res.once("close", () => clearInterval(keepalive));
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-store",
    "x-accel-buffering": "no",
  });
  res.write(`retry: ${RETRY_MS}\n\n`);
  for (const v of initial.sort((a, b) => a.revision - b.revision)) send(v);
  live = true;
  for (const v of queued.splice(0)) send(v);
}

/** `keys=a,b`: each a valid config key; undefined means every key. */
function selectedKeys(raw: string | undefined): string[] | undefined {
  if (raw === undefined) return undefined;
  const keys = raw.split(",").filter((k) => k !== "");
  if (keys.length === 0) {
    throw new AgentHttpError(AgentErrorCode.InvalidInput, "keys is empty (omit it for all keys)", {
      parameter: "keys",
    });
  }
  for (const k of keys) {
    try {
      assertConfigKey(k);
    } catch (err) {
      throw configReadError(err);
    }
  }
  return [...new Set(keys)];
}

function resumeRevision(query: string | undefined, header: string | string[] | undefined): number {
  if (query !== undefined) return revisionParam("since", query);
  if (typeof header === "string" && header.trim() !== "") {
    return revisionParam("Last-Event-ID", header.trim());
  }
  return 0;
}

/**
 * The current view of each selected key that exists (a key that does not exist yet is not an
 * error: its first revision arrives as a live event).
 */
async function initialViews(
  catalog: ConfigCatalog,
  keys: string[] | undefined,
): Promise<ConfigView[]> {
  const wanted = keys ?? catalog.keys().map((k) => k.key);
  const views = await Promise.all(
    wanted.map((k) =>
      catalog.read(k).catch((err: unknown) => {
        const e = configReadError(err);
        if (e instanceof AgentHttpError && e.code === AgentErrorCode.NotFound) return undefined;
        throw err;
      }),
    ),
  );
  return views.filter((v): v is ConfigView => v !== undefined);
}
