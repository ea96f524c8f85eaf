// bench:nodes-api — GET /v1/nodes at fleet scale (10,000 node_state rows by default), fresh and
// cached, p50/p99, against one analytics process. Seeds node_state directly (no ingest running):
// this times the read side only. `node testkit/src/run-ts.cjs bench/src/ingest/nodes-api-bench.ts --help`.
import { loadavg } from "node:os";
import { Client } from "pg";
import { z } from "zod";
import { KonError } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import {
  REPEAT_FLAG,
  REPEAT_USAGE,
  benchOptions,
  formatRepeats,
  parseBenchFlags,
  repeatShape,
  summarizeRepeats,
} from "../bench-flags";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import { startAnalyticsProcess } from "./analytics-process";
import { measureApi, measureApiCrowd } from "./api-latency";
import type { ApiClient } from "./api-latency";
import { STATIC_FLOOR_PATH } from "./ingest-phases";
import { measureCpu } from "./process-cpu";
import type { CpuUse } from "./process-cpu";
import { startDurablePostgres } from "./durable-postgres";
import { percentiles } from "./percentiles";
import { CleanupStack } from "../cleanup-stack";

/** Flags of nodes-api-bench. */
interface NodesBenchOptions {
  /** node_state rows seeded. @default 10000 */
  nodes: number;
  /** Groups the nodes are spread over. @default 10 */
  groups: number;
  /** Config keys per node (each with revision, sha256, appliedAtMs). @default 3 */
  keys: number;
  /** Measured requests per path and mode. @default 200 */
  requests: number;
  /** Extra paths to time (comma-separated), besides `/v1/nodes` and a 100-node page. @default "" */
  paths: string[];
  /** Concurrent clients of the crowd measurement (fresh requests of every path). @default 200 */
  clients: number;
  /** Measured requests per crowd client. @default 3 */
  perClient: number;
  /** Runs of every measurement. @default 1 */
  repeat: number;
  /** How the bench reads answers (see ApiClient). @default "http" */
  client: ApiClient;
  help: boolean;
}

const USAGE = `usage: node testkit/src/run-ts.cjs bench/src/ingest/nodes-api-bench.ts [flags]
  --nodes N      node_state rows seeded                 (default 10000)
  --groups N     groups they are spread over            (default 10)
  --keys N       config keys per node                   (default 3)
  --requests N   measured requests per path and mode    (default 200)
  --paths a,b    more paths to time besides /v1/nodes and /v1/nodes?limit=100,
                 e.g. '/v1/nodes?limit=500,/v1/nodes?detail=full'
  --clients N    concurrent clients asking fresh, per path but the whole list (default 200; 0: none)
  --per-client N measured requests per crowd client      (default 3)
  --client K     http (node:http, body kept as bytes) or fetch (undici fetch + text(), as the
                 runs before 2026-12-04 13:00 measured; costs the client ~50 ms at 4.7 MB)
                                                         (default http)
${REPEAT_USAGE}
  --help
Each path is timed cached (plain GET) and fresh (Cache-Control: no-cache), one request at a time
over keep-alive, to the last byte; then fresh by a crowd of concurrent clients. CPU per request
of the analytics process and of PostgreSQL (all its processes) is printed beside each figure:
steadier than latency on a shared machine. Analytics options come from the environment (KON_API_CACHE_MS=...).`;

const int = (min: number) => z.coerce.number().int().min(min);
const schema = z.object({
  nodes: int(1).default(10_000),
  groups: int(1).max(1000).default(10),
  keys: int(0).max(50).default(3),
  requests: int(1).default(200),
  paths: z
    .string()
    .default("")
    .transform((s) => s.split(",").filter((p) => p !== ""))
    .refine((ps) => ps.every((p) => p.startsWith("/")), "paths start with /"),
  clients: int(0).max(2000).default(200),
  "per-client": int(1).default(3),
  client: z.enum(["http", "fetch"]).default("http"),
  ...repeatShape,
  help: z.boolean().default(false),
});

function parse(args: readonly string[]): NodesBenchOptions {
  const o = parseBenchFlags(
    args,
    {
      strings: [
        "nodes",
        "groups",
        "keys",
        "requests",
        "paths",
        "clients",
        "per-client",
        "client",
        REPEAT_FLAG,
      ],
      booleans: [],
    },
    schema,
    USAGE,
  );
  return { ...o, perClient: o["per-client"] };
}

/** CPU ms per request of the analytics process and of PostgreSQL over a measurement. */
function cpuPer(use: CpuUse, requests: number): { cpuAnalyticsMs: number; cpuPgMs: number } {
  const per = (s: number | undefined): number => ((s ?? 0) * 1000) / Math.max(1, requests);
  return { cpuAnalyticsMs: per(use.seconds.analytics), cpuPgMs: per(use.seconds.postgres) };
}

const out = (line = ""): void => void process.stdout.write(line + "\n");
const DB = "konorkestra";

async function sql(url: string, text: string): Promise<Record<string, unknown>[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text)).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}

/**
 * node_state as a running fleet leaves it: most nodes up with a recent beat, some down, left or
 * flapping; every node reports `keys` config keys with a sha256; a few have a rejected or pending
 * revision. Node ids look like host names (`node-00042`).
 */
function seedSql(o: NodesBenchOptions): string {
  const perKey = Array.from(
    { length: o.keys },
    (_, k) =>
      `'key${k}.settings', jsonb_build_object('revision', 10 + (i + ${k}) % 7,
        'sha256', encode(sha256(('k${k}-' || (i % 7))::bytea), 'hex'),
        'appliedAtMs', (extract(epoch FROM now()) * 1000)::int8 - (i % 3600) * 1000,
        'rejectedRevision', CASE WHEN i % 97 = ${k} THEN 18 ELSE 0 END,
        'pendingRevision', CASE WHEN i % 89 = ${k} THEN 17 ELSE 0 END)`,
  );
  const config = o.keys > 0 ? `jsonb_build_object(${perKey.join(", ")})` : `'{}'::jsonb`;
  return `
    INSERT INTO node_state (group_name, node_id, status, status_since, status_at, suspect,
      flapping_at, last_beat_at, last_sent_at, last_seq, instance_id, interval_ms, allowed_misses,
      hostname, service_name, sdk_version, config)
    SELECT 'group-' || (i % ${o.groups}), 'node-' || lpad(i::text, 5, '0'),
           CASE WHEN i % 50 = 0 THEN 'down' WHEN i % 70 = 0 THEN 'left' ELSE 'up' END,
           now() - (i % 86400) * interval '1 second', now(), i % 500 = 0,
           CASE WHEN i % 300 = 0 THEN now() - interval '1 minute' END,
           now() - (i % 1000) * interval '1 millisecond', now() - interval '1 second',
           100000 + i, 'inst-' || md5(i::text), 1000, 3,
           'host-' || i || '.dc1.example.internal', 'service' || (i % 5), '0.1.0', ${config}
      FROM generate_series(1, ${o.nodes}) i`;
}

interface Timed {
  run: number;
  path: string;
  mode: string;
  p50: number;
  p99: number;
  max: number;
  n: number;
  bytes: number;
  nodes: number;
  /** CPU ms per request sent (warm-ups included) over the measurement. */
  cpuAnalyticsMs: number;
  cpuPgMs: number;
}

async function main(): Promise<number> {
  const o = benchOptions(parse, USAGE);
  if (typeof o === "number") return o;
  const cleanup = new CleanupStack();
  cleanup.runOnSignals();
  try {
    const nats = await startNats();
    cleanup.push(() => nats.stop());
    const pg = await startDurablePostgres();
    cleanup.push(() => pg.stop());
    await sql(pg.url(), `CREATE DATABASE ${DB}`);
    const analytics = await startAnalyticsProcess(nats.serviceEnv("analytics"), pg.url(DB));
    cleanup.push(() => analytics.stop());
    await sql(pg.url(DB), seedSql(o));
    await sql(pg.url(DB), "VACUUM ANALYZE node_state");

    const cmd = commandLine();
    out("bench:nodes-api — GET /v1/nodes from one analytics process, node_state seeded by SQL");
    out(`command: ${cmd.node}`);
    for (const line of formatMachineInfo(collectMachineInfo())) out(line);
    out(
      `setup:   ${o.nodes} nodes in ${o.groups} groups, ${o.keys} config keys each (sha256); ` +
        `${o.requests} requests per path and mode, one at a time, keep-alive; then ` +
        `${o.clients} concurrent clients x ${o.perClient} fresh requests per path`,
    );
    const paths = ["/v1/nodes?limit=100", "/v1/nodes", ...o.paths];
    const cpuOf = { analytics: analytics.pid, postgres: pg.pid };
    const results: Timed[] = [];
    /** Times one sample (sequential or a crowd) of `path` and records it with its CPU per request. */
    const record = async (
      run: number,
      path: string,
      mode: string,
      sample: () => Promise<{ latencies: number[]; bytes: number; sent: number; body?: unknown }>,
    ): Promise<void> => {
      const stop = measureCpu(cpuOf);
      const s = await sample();
      const cpu = cpuPer(stop(), s.sent);
      const nodes = (s.body as { nodes?: unknown[] } | undefined)?.nodes?.length ?? 0;
      results.push({ run, path, mode, ...percentiles(s.latencies), bytes: s.bytes, nodes, ...cpu });
    };
    const crowd = (path: string, headers: Record<string, string>) => () =>
      measureApiCrowd(analytics.url, path, o.clients, o.perClient, headers, o.client);
    for (let run = 0; run < o.repeat; run++) {
      // The floor: the same crowd on a small static file (express, no database), what the
      // machine and the clients cost on their own.
      if (o.clients > 0)
        await record(run, STATIC_FLOOR_PATH, `floor x${o.clients}`, crowd(STATIC_FLOOR_PATH, {}));
      for (const path of paths) {
        for (const mode of ["cached", "fresh"] as const) {
          const headers: Record<string, string> =
            mode === "fresh" ? { "Cache-Control": "no-cache" } : {};
          await record(run, path, mode, () =>
            measureApi(analytics.url, path, o.requests, headers, o.client),
          );
        }
        // No crowd on the whole fleet: 200 clients x 4.7 MB is a transfer test of the machine,
        // and dashboards ask for pages (--paths adds crowds on other paths).
        if (o.clients > 0 && path !== "/v1/nodes") {
          await record(
            run,
            path,
            `fresh x${o.clients}`,
            crowd(path, { "Cache-Control": "no-cache" }),
          );
        }
      }
    }
    out();
    for (const r of results) {
      out(
        `${o.repeat > 1 ? `run ${r.run + 1} ` : ""}${r.mode.padEnd(10)} ${r.path.padEnd(28)} ` +
          `p50 ${r.p50.toFixed(1).padStart(7)} ms  p99 ${r.p99.toFixed(1).padStart(7)} ms  ` +
          `max ${r.max.toFixed(1).padStart(7)} ms  (n=${r.n}, ${r.nodes} nodes, ${(r.bytes / 1e6).toFixed(2)} MB)  ` +
          `cpu/req analytics ${r.cpuAnalyticsMs.toFixed(2)} ms, postgres ${r.cpuPgMs.toFixed(2)} ms`,
      );
    }
    const floors = results.filter((r) => r.path === STATIC_FLOOR_PATH);
    for (const r of results.filter((x) => x.mode.startsWith("fresh x"))) {
      const floor = floors.find((f) => f.run === r.run);
      if (floor) {
        out(
          `ratio, same run: ${r.path} crowd p99 / floor crowd p99 = ${(r.p99 / floor.p99).toFixed(2)}` +
            (o.repeat > 1 ? ` (run ${r.run + 1})` : ""),
        );
      }
    }
    if (o.repeat > 1) {
      out(`\np99 over ${o.repeat} runs (worst / median):`);
      const keys = [...new Set(results.map((r) => `${r.mode}|${r.path}`))];
      for (const k of keys) {
        const s = summarizeRepeats(
          results.filter((r) => `${r.mode}|${r.path}` === k).map((r) => r.p99),
        );
        const [mode, path] = k.split("|");
        out(`  ${mode!.padEnd(10)} ${path!.padEnd(28)} ${formatRepeats(s, "ms")}`);
      }
    }
    out(`load:    ${(loadavg()[0] ?? 0).toFixed(2)} (1 min, at the end)`);
    out(JSON.stringify({ nodes: o.nodes, groups: o.groups, keys: o.keys, results }));
    return 0;
  } catch (err) {
    const text = err instanceof KonError ? `${err.code}: ${err.message}` : String(err);
    process.stderr.write(`bench:nodes-api failed: ${text}\n`);
    return 1;
  } finally {
    await cleanup.run();
  }
}

void main().then((code) => process.exit(code));
