import { Agent, request } from "node:http";
import { benchAuthHeaders } from "./analytics-process";

/** Latencies of one endpoint, with what it answered. */
export interface ApiSample {
  readonly path: string;
  /** Milliseconds from request sent to the last byte of the body read, per request. */
  readonly latencies: number[];
  readonly bytes: number;
  /** Requests sent, warm-ups and retries included (what the server's CPU was spent on). */
  readonly sent: number;
  /** The last response body, parsed, for a sanity check of what was measured. */
  readonly body: unknown;
}

/**
 * How the benchmark's client reads an answer. `http` (default): node:http over a keep-alive
 * agent, the body's chunks kept as bytes, so the time is the server's and the wire's up to the
 * last byte. `fetch`: undici's fetch and `text()`, as a script would; at 4.7 MB its stream and
 * UTF-8 decoding cost the client ~50 ms (measured, cached list: raw 4–8 ms p50, fetch 30–160 ms),
 * which a server change cannot move.
 */
export type ApiClient = "http" | "fetch";
export const API_CLIENTS: readonly ApiClient[] = ["http", "fetch"];

interface Answer {
  readonly status: number;
  readonly body: Buffer;
}

const agents = new Map<string, Agent>();

/** One GET over a kept-alive connection of node:http, the body as bytes. */
function httpGet(url: string, headers: Record<string, string>): Promise<Answer> {
  const origin = new URL(url).origin;
  let agent = agents.get(origin);
  if (!agent) agents.set(origin, (agent = new Agent({ keepAlive: true, maxSockets: Infinity })));
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

async function fetchGet(url: string, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(url, { headers });
  return { status: res.status, body: Buffer.from(await res.text(), "utf8") };
}

/** A GET with the bench's read token, by `client`; errors name the path and the socket's cause. */
function get(
  client: ApiClient,
  baseUrl: string,
  path: string,
  headers: Record<string, string>,
): Promise<Answer> {
  const all = { ...benchAuthHeaders(), ...headers };
  const sent = client === "http" ? httpGet(baseUrl + path, all) : fetchGet(baseUrl + path, all);
  return sent.catch((err: unknown) => {
    // undici hides the socket's error in `cause`.
    const cause = (err as { cause?: Error }).cause;
    throw new Error(`GET ${path}: ${String(err)}${cause ? ` (${cause.message})` : ""}`);
  });
}

const WARMUP = 5;

/**
 * Sends `requests` GETs one after another (after a few unmeasured warm-up ones) over one
 * keep-alive connection, as a dashboard or Grafana would, and times each to the last byte.
 */
export async function measureApi(
  baseUrl: string,
  path: string,
  requests: number,
  headers: Record<string, string> = {},
  client: ApiClient = "http",
): Promise<ApiSample> {
  const latencies: number[] = [];
  let last: Answer | undefined;
  for (let i = 0; i < WARMUP + requests; i++) {
    const t0 = performance.now();
    last = await get(client, baseUrl, path, headers);
    const ms = performance.now() - t0;
    if (last.status !== 200) {
      throw new Error(`GET ${path}: HTTP ${last.status}: ${last.body.toString().slice(0, 300)}`);
    }
    if (i >= WARMUP) latencies.push(ms);
  }
  return {
    path,
    latencies,
    bytes: last?.body.length ?? 0,
    sent: WARMUP + requests,
    body: JSON.parse(last?.body.toString() ?? "null") as unknown,
  };
}

/**
 * `clients` concurrent clients, each sending `perClient` GETs one after another (after one
 * unmeasured warm-up each), as a crowd of dashboards would; every request timed to the last byte.
 */
export async function measureApiCrowd(
  baseUrl: string,
  path: string,
  clients: number,
  perClient: number,
  headers: Record<string, string> = {},
  client: ApiClient = "http",
): Promise<ApiSample & { retries: number }> {
  const latencies: number[] = [];
  let last: Answer | undefined;
  let retries = 0;
  const one = async (measured: boolean): Promise<void> => {
    const t0 = performance.now();
    // A kept-alive connection the server closed as idle just as it was reused ("other side
    // closed", "socket hang up") is a race of the client's pool, not an answer: retried (3
    // tries), counted.
    let res: Answer | undefined;
    for (let attempt = 1; !res; attempt++) {
      res = await get(client, baseUrl, path, headers).catch((err: unknown) => {
        if (attempt >= 3 || !/other side closed|ECONNRESET|socket hang up/.test(String(err))) {
          throw err;
        }
        retries++;
        return undefined;
      });
    }
    const ms = performance.now() - t0;
    if (res.status !== 200) {
      throw new Error(`GET ${path}: HTTP ${res.status}: ${res.body.toString().slice(0, 300)}`);
    }
    if (measured) latencies.push(ms);
    last = res;
  };
  await Promise.all(
    Array.from({ length: clients }, async () => {
      await one(false);
      for (let i = 0; i < perClient; i++) await one(true);
    }),
  );
  const text = last?.body.toString() ?? "";
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (the static file of the HTTP floor): the text stands
  }
  const sent = clients * (1 + perClient) + retries;
  return { path, latencies, bytes: last?.body.length ?? 0, sent, body, retries };
}
