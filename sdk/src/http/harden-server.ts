import { createServer } from "node:http";
import type { RequestListener, Server } from "node:http";
import { z } from "zod";
import { parseOptionsWith } from "../options/common-options";
import { envNumber } from "../options/env-readers";
import type { EnvVars } from "../options/env-readers";

/**
 * How long a client may take to send a request, and how much header it may send, on every HTTP
 * server of the services (admin, analytics, monitor, config-loader). Node's own defaults (60 s
 * for the headers, checked every 30 s; 300 s for the whole request) let a client that dribbles
 * its headers hold a connection for 70-95 s; these cut it at the limit (checked every second).
 * They bound receiving the request only: a response may take as long as it takes (a long poll,
 * a stream).
 */
export interface HttpLimits {
  /** Time to send the request line and every header; a slower client gets 408 and is disconnected (`KON_HTTP_HEADERS_TIMEOUT_MS`). @default 10000 */
  headersTimeoutMs: number;
  /** Time to send the whole request, body included; at least `headersTimeoutMs` (`KON_HTTP_REQUEST_TIMEOUT_MS`). @default 30000 */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this (`KON_HTTP_KEEPALIVE_TIMEOUT_MS`). @default 5000 */
  keepAliveTimeoutMs: number;
  /** Headers read per request; the rest are ignored (`KON_HTTP_MAX_HEADERS`). @default 100 */
  maxHeadersCount: number;
}

const ms = z.number().int().min(100).max(3_600_000);
const httpLimitsSchema = z
  .object({
    headersTimeoutMs: ms.default(10_000),
    requestTimeoutMs: ms.default(30_000),
    keepAliveTimeoutMs: z.number().int().min(0).max(3_600_000).default(5_000),
    maxHeadersCount: z.number().int().min(10).max(2_000).default(100),
  })
  .strict()
  .refine((o) => o.requestTimeoutMs >= o.headersTimeoutMs, {
    message: "must be at least headersTimeoutMs (KON_HTTP_HEADERS_TIMEOUT_MS)",
    path: ["requestTimeoutMs"],
  });

const ENV: Record<keyof HttpLimits, string> = {
  headersTimeoutMs: "KON_HTTP_HEADERS_TIMEOUT_MS",
  requestTimeoutMs: "KON_HTTP_REQUEST_TIMEOUT_MS",
  keepAliveTimeoutMs: "KON_HTTP_KEEPALIVE_TIMEOUT_MS",
  maxHeadersCount: "KON_HTTP_MAX_HEADERS",
};

/**
 * The limits: `given` first, then the `KON_HTTP_*` variables, then the defaults.
 * @throws {@link KonError} `INVALID_OPTIONS` naming the bad field
 */
export function readHttpLimits(
  given: Partial<HttpLimits> = {},
  env: EnvVars = process.env,
): HttpLimits {
  const merged: Record<string, number> = {};
  for (const key of Object.keys(ENV) as (keyof HttpLimits)[]) {
    const v = given[key] ?? envNumber(env, ENV[key]);
    if (v !== undefined) merged[key] = v;
  }
  return parseOptionsWith(httpLimitsSchema, merged, "HTTP");
}

/**
 * An HTTP server (for an express app or any request listener) with {@link HttpLimits} set; call
 * `listen` on it as on any server.
 */
export function createHardenedServer(listener: RequestListener, limits: HttpLimits): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node checks both timeouts only this often (30 s by default).
      connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs),
    },
    listener,
  );
  server.maxHeadersCount = limits.maxHeadersCount;
  return server;
}
