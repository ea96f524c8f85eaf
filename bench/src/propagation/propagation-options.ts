import { z } from "zod";
import type { SchemaPolicy } from "./bench-config";
import { REPEAT_FLAG, REPEAT_USAGE, parseBenchFlags, repeatShape } from "../bench-flags";

/** Flags of `npm run bench:propagation -- [flags]`. */
export interface PropagationOptions {
  /** Watchers of the fleet measurements (SDK handles, raw watches, etcd watchers). @default 1000 */
  watchers: number;
  /** Connections (or etcd clients) the fleet's watchers are spread over. @default 50 */
  connections: number;
  /** Measured changes per fleet variant, and file saves. @default 50 */
  changes: number;
  /** Measured changes of the single-watcher case. @default changes × 4 */
  oneWatcherChanges: number;
  /** Unmeasured changes before each measurement. @default 3 */
  warmup: number;
  /** Pause after every watcher applied a change, before the next one. @default 20 */
  pauseMs: number;
  /** A change not applied by every watcher within this long is a failure. @default 5000 */
  timeoutMs: number;
  /** Quiet time after setting up a fleet (its start-up traffic settles). @default 1000 */
  settleMs: number;
  /** config-loader debounce for the file save case; undefined keeps the loader's default. */
  debounceMs: number | undefined;
  /** Who shares a zod schema object (a connection's watchers, or nobody). @default "per-connection" */
  schemas: SchemaPolicy;
  /** Skip the etcd comparison. @default false */
  skipEtcd: boolean;
  /** Skip the raw `kv.watch` comparisons (1 watcher and fleet). @default false */
  skipRaw: boolean;
  /** Runs of every measurement; targets are judged on the worst. @default 1 */
  repeat: number;
  /** Print usage and exit. */
  help: boolean;
}

export const USAGE = `usage: npm run bench:propagation -- [flags]
  --watchers N        watchers of the fleet measurements            (default 1000)
  --connections N     connections / etcd clients they are spread on (default 50)
  --changes N         measured changes per fleet variant and saves  (default 50)
  --one-watcher-changes N  measured changes with 1 watcher         (default changes x 4)
  --warmup N          unmeasured changes before each measurement    (default 20)
  --pause-ms N        pause between changes                         (default 20)
  --timeout-ms N      a change not applied everywhere by then fails (default 5000)
  --settle-ms N       quiet time after a fleet is set up            (default 1000)
  --debounce-ms N     config-loader debounce for the file case      (default: the loader's own)
  --schema per-connection|per-handle
                      one zod schema object per connection, shared by
                      its watchers, or one per watcher  (default per-connection)
  --skip-etcd         no etcd comparison
  --skip-raw          no raw kv.watch comparisons (1 watcher and fleet)
${REPEAT_USAGE}
  --help`;

const int = (min: number) => z.coerce.number().int().min(min);

const schema = z
  .object({
    watchers: int(1).default(1000),
    connections: int(1).default(50),
    changes: int(1).default(50),
    "one-watcher-changes": int(1).optional(),
    warmup: int(0).default(20),
    "pause-ms": int(0).default(20),
    "timeout-ms": int(1).default(5000),
    "settle-ms": int(0).default(1000),
    "debounce-ms": int(0).max(60_000).optional(),
    schema: z.enum(["per-connection", "per-handle"]).default("per-connection"),
    "skip-etcd": z.boolean().default(false),
    "skip-raw": z.boolean().default(false),
    ...repeatShape,
    help: z.boolean().default(false),
  })
  .refine((o) => o.connections <= o.watchers, {
    path: ["connections"],
    message: "must not exceed --watchers",
  });

const NUMERIC = [
  "watchers",
  "connections",
  "changes",
  "one-watcher-changes",
  "warmup",
  "pause-ms",
  "timeout-ms",
  "settle-ms",
  "debounce-ms",
] as const;

/**
 * Parses the command line; throws a KonError `INVALID_OPTIONS` naming the bad flag (an unknown
 * flag, a missing or non-integer value, connections above watchers).
 */
export function parsePropagationOptions(args: readonly string[]): PropagationOptions {
  const o = parseBenchFlags(
    args,
    { strings: [...NUMERIC, "schema", REPEAT_FLAG], booleans: ["skip-etcd", "skip-raw"] },
    schema,
    USAGE,
  );
  return {
    watchers: o.watchers,
    connections: o.connections,
    changes: o.changes,
    oneWatcherChanges: o["one-watcher-changes"] ?? o.changes * 4,
    warmup: o.warmup,
    pauseMs: o["pause-ms"],
    timeoutMs: o["timeout-ms"],
    settleMs: o["settle-ms"],
    debounceMs: o["debounce-ms"],
    schemas: o.schema,
    skipEtcd: o["skip-etcd"],
    skipRaw: o["skip-raw"],
    repeat: o.repeat,
    help: o.help,
  };
}
