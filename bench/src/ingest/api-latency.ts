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
    const res = await fetch(baseUrl + path, { headers });
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
): Promise<ApiSample> {
  const latencies: number[] = [];
  let bytes = 0;
  let text = "";
  const one = async (measured: boolean): Promise<void> => {
    const t0 = performance.now();
    const res = await fetch(baseUrl + path, { headers });
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
  return { path, latencies, bytes, body: JSON.parse(text) as unknown };
}
