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
