import { z } from "zod";
import { REPEAT_FLAG, REPEAT_USAGE, parseBenchFlags, repeatShape } from "../bench-flags";

/** Flags of `npm run bench:ingest -- [flags]`. */
export interface IngestOptions {
  /** Heartbeats published in the throughput phase (and COPYed by the ceiling). @default 1000000 */
  rows: number;
  /** Simulated nodes, each with a node_state row and an `up` event. @default 10000 */
  nodes: number;
  /** The publisher flushes (a round trip to the server) after this many messages. @default 1000 */
  flushEvery: number;
  /** One heartbeat in this many is a lag probe. @default 500 */
  probeEvery: number;
  /** Heartbeats per second of the steady phase (lag at a load below capacity). @default 10000 */
  steadyRate: number;
  /** Length of the steady phase. @default 15 */
  steadySeconds: number;
  /** Measured requests per API endpoint. @default 200 */
  apiRequests: number;
  /** Measured requests of a page (`/v1/nodes?limit=100`), cached and fresh: its p99 is a tail. */
  pageRequests: number;
  /** Concurrent clients of the crowd phase (fresh `/v1/nodes`, during a steady load). @default 200 */
  apiClients: number;
  /** Runs of every phase after the seeding; targets are judged on the worst. @default 1 */
  repeat: number;
  /** State changes (up/down alternating) seeded over 30 days for the uptime node. @default 3000 */
  uptimeEvents: number;
  /** Heartbeats of the drain phase (the analytics process alone, on a backlog). @default 500000 */
  drainRows: number;
  /** Skip the COPY ceiling. @default false */
  skipCeiling: boolean;
  /** Skip the drain phase. @default false */
  skipDrain: boolean;
  /** No drain floors (the backlog read again without database writes). */
  skipFloors: boolean;
  /**
   * `synchronous_commit` of the analytics database: `on` (durable, the default) or `off` (faster
   * commits; a PostgreSQL crash may lose the last ~600 ms of committed and acknowledged rows).
   * @default "on"
   */
  synchronousCommit: "on" | "off";
  /**
   * `one`: one analytics process does ingest and API (KON_ANALYTICS_ROLES=both). `split`: one
   * with KON_ANALYTICS_ROLES=ingest (the ingest phases, drain included) and one with =api that
   * the crowd and the API phase ask, so the crowd's lag ratio can be measured both ways.
   * @default "one"
   */
  analytics: "one" | "split";
  help: boolean;
}

export const USAGE = `usage: npm run bench:ingest -- [flags]
  --rows N            heartbeats in the throughput phase           (default 1000000)
  --nodes N           simulated nodes (node_state rows)            (default 10000)
  --flush-every N     publisher flushes every N messages           (default 1000)
  --probe-every N     one heartbeat in N is a lag probe            (default 500)
  --steady-rate N     heartbeats/s of the steady (lag) phase       (default 10000)
  --steady-seconds N  length of the steady phase                   (default 15)
  --api-requests N    measured requests per API endpoint           (default 200)
  --page-requests N   measured requests of a page, cached and fresh (default 1000: a p99 of
                      50 requests is their worst one)
  --api-clients N     concurrent clients asking fresh /v1/nodes during a steady load (default 200)
  --uptime-events N   state changes over 30 days for the uptime query (default 3000)
  --synchronous-commit on|off
                      PostgreSQL synchronous_commit for the analytics database (default on;
                      off trades the last ~600 ms of acknowledged rows on a crash for speed)
  --drain-rows N      backlog drained by a restarted analytics      (default 500000)
  --skip-ceiling      no COPY ceiling
  --skip-drain        no drain phase
  --skip-floors       no drain floors (the drained backlog read again with no rows written)
  --analytics one|split  one analytics process, or ingest and API in two (KON_ANALYTICS_ROLES) (default one)
${REPEAT_USAGE}
  --help
Analytics options come from the environment as usual (KON_INGEST_BATCH_ROWS=... npm run ...).`;

const int = (min: number) => z.coerce.number().int().min(min);

const schema = z.object({
  rows: int(1000).default(1_000_000),
  nodes: int(10).default(10_000),
  "flush-every": int(1).max(100_000).default(1000),
  "probe-every": int(10).default(500),
  "steady-rate": int(100).default(10_000),
  "steady-seconds": int(1).default(15),
  "api-requests": int(10).default(200),
  "page-requests": int(10).default(1000),
  "api-clients": int(1).max(2000).default(200),
  ...repeatShape,
  "uptime-events": int(2).default(3000),
  "synchronous-commit": z.enum(["on", "off"]).default("on"),
  analytics: z.enum(["one", "split"]).default("one"),
  "drain-rows": int(1000).optional(),
  "skip-ceiling": z.boolean().default(false),
  "skip-drain": z.boolean().default(false),
  "skip-floors": z.boolean().default(false),
  help: z.boolean().default(false),
});

const NUMERIC = [
  "rows",
  "nodes",
  "flush-every",
  "probe-every",
  "steady-rate",
  "steady-seconds",
  "api-requests",
  "page-requests",
  "api-clients",
  REPEAT_FLAG,
  "uptime-events",
  "drain-rows",
] as const;

/**
 * Parses the command line; throws a KonError `INVALID_OPTIONS` naming the bad flag (an unknown
 * flag, a missing or non-integer value, a value out of range).
 */
export function parseIngestOptions(args: readonly string[]): IngestOptions {
  const o = parseBenchFlags(
    args,
    {
      strings: [...NUMERIC, "synchronous-commit", "analytics"],
      booleans: ["skip-ceiling", "skip-drain", "skip-floors"],
    },
    schema,
    USAGE,
  );
  return {
    rows: o.rows,
    nodes: o.nodes,
    flushEvery: o["flush-every"],
    probeEvery: o["probe-every"],
    steadyRate: o["steady-rate"],
    steadySeconds: o["steady-seconds"],
    apiRequests: o["api-requests"],
    pageRequests: o["page-requests"],
    apiClients: o["api-clients"],
    repeat: o.repeat,
    uptimeEvents: o["uptime-events"],
    synchronousCommit: o["synchronous-commit"],
    analytics: o.analytics,
    drainRows: o["drain-rows"] ?? Math.min(o.rows, 500_000),
    skipCeiling: o["skip-ceiling"],
    skipDrain: o["skip-drain"],
    skipFloors: o["skip-floors"],
    help: o.help,
  };
}
