import { benchAuthHeaders } from "./analytics-process";
/** Latencies of one endpoint, with what it answered. */
export interface ApiSample {
  readonly path: string;
  /** Milliseconds from request sent to the last byte of the body read, per request. */
  readonly latencies: number[];
  readonly bytes: number;
  /** The last response body, parsed, for a sanity check of what was measured. */
  readonly body: unknown;
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
): Promise<ApiSample> {
  const latencies: number[] = [];
  let bytes = 0;
  let text = "";
  for (let i = 0; i < WARMUP + requests; i++) {
    const t0 = performance.now();
    const res = await fetch(baseUrl + path, { headers: { ...benchAuthHeaders(), ...headers } });
    text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) {
      throw new Error(`GET ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    }
    if (i >= WARMUP) latencies.push(ms);
    bytes = text.length;
  }
  return { path, latencies, bytes, body: JSON.parse(text) as unknown };
}

/**
 * `clients` concurrent clients, each sending `perClient` GETs one after another (after one
 * unmeasured warm-up each), as a crowd of dashboards would; every request timed to the last byte.
 * `stop`, when given, ends the clients early (each finishes its request in flight).
 */
export async function measureApiCrowd(
  baseUrl: string,
  path: string,
  clients: number,
  perClient: number,
  headers: Record<string, string> = {},
): Promise<ApiSample & { retries: number }> {
  const latencies: number[] = [];
  let bytes = 0;
  let text = "";
  let retries = 0;
  const get = (): Promise<Response> =>
    fetch(baseUrl + path, { headers: { ...benchAuthHeaders(), ...headers } }).catch(
      (err: unknown) => {
        // undici hides the socket's error in `cause`.
        const cause = (err as { cause?: Error }).cause;
        throw new Error(`GET ${path}: ${String(err)}${cause ? ` (${cause.message})` : ""}`);
      },
    );
  const one = async (measured: boolean): Promise<void> => {
    const t0 = performance.now();
    // A kept-alive connection the server closed as idle just as it was reused ("other side
    // closed") is a race of the client's pool, not an answer: retried (3 tries), counted.
    let res: Response | undefined;
    for (let attempt = 1; !res; attempt++) {
      res = await get().catch((err: unknown) => {
        if (attempt >= 3 || !/other side closed|ECONNRESET/.test(String(err))) throw err;
        retries++;
        return undefined;
      });
    }
    const body = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200)
      throw new Error(`GET ${path}: HTTP ${res.status}: ${body.slice(0, 300)}`);
    if (measured) latencies.push(ms);
    bytes = body.length;
    text = body;
  };
  await Promise.all(
    Array.from({ length: clients }, async () => {
      await one(false);
      for (let i = 0; i < perClient; i++) await one(true);
    }),
  );
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (the static file of the HTTP floor): the text stands
  }
  return { path, latencies, bytes, body, retries };
}
