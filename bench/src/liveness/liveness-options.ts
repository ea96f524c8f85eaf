import { z } from "zod";
import type { RowKey } from "./case-driver";
import type { RawNatsPublish } from "./raw-nats-case";
import { parseBenchFlags, REPEAT_FLAG, REPEAT_USAGE, repeatShape } from "../bench-flags";

/** Which rows a run measures: one monitor backend (with its raw baseline), or all four rows. */
export type BackendChoice = "nats" | "redis" | "all";

/** Flags of `npm run bench:liveness -- [flags]`. */
export interface LivenessOptions {
  /** Simulated nodes, each beating at 1 Hz. @default 10000 */
  nodes: number;
  /** Nodes stopped (silently, as a crash) after the warm-up, chosen at random. @default 100 */
  stop: number;
  /** Liveness TTL in whole seconds = allowed misses at 1 Hz. @default 3 */
  ttlS: number;
  /** @default "all" */
  backend: BackendChoice;
  /** Also run the raw baselines of the chosen backend(s). @default true */
  baselines: boolean;
  /** Exactly these rows, in this order (overrides backend and baselines). */
  rows: RowKey[] | undefined;
  /** How the raw NATS baseline writes beats (see raw-nats-case). @default "core" */
  rawNatsPublish: RawNatsPublish;
  /** Seed of the choice of stopped nodes (the same nodes stop in every row). @default 1 */
  seed: number;
  /** Least time every node beats before the stop. @default 2 × TTL */
  warmupS: number;
  /** How long all nodes may take to be reported up (after the warm-up). @default 60 */
  upTimeoutS: number;
  /** A stopped node not reported within this long after its deadline is missed. @default 10 */
  missAfterS: number;
  /** The others keep beating this long after the last deadline (false positives). @default 15 */
  tailS: number;
  /** The run is invalid if the simulator's own timer was ever later than this. @default 500 */
  maxSimLagMs: number;
  /** Period of the simulator's scheduling timer. @default {@link TICK_MS} */
  tickMs: number;
  /**
   * Nice value of the bench process (simulator and observer) while a row runs; 0 leaves
   * it alone. @default {@link BENCH_NICE}
   */
  benchNice: number;
  /** Write a V8 CPU profile of each monitor process into this folder (`--cpu-prof`). */
  cpuProfDir: string | undefined;
  /** Monitor processes sharing the fleet in the monitor rows. @default 1 */
  monitors: number;
  /** Runs of the whole set of rows; worst and median are reported. @default 1 */
  repeat: number;
  help: boolean;
}

/** Heartbeat interval of every simulated node (the 1 Hz). */
export const INTERVAL_MS = 1000;

/**
 * Period of the simulator's timer. Each tick costs a wake-up and a TLS write whatever its number
 * of beats: at 20,000 nodes the simulator took 0.074-0.081 cores with 5 ms ticks and
 * 0.037-0.055 with 20 ms (alternated in one process, load 14-16), no later in sending.
 */
export const TICK_MS = 20;

/**
 * The bench process runs its rows at this nice value (where the OS allows it): the
 * simulated fleet stands for machines of their own, which the monitors under test do not slow
 * down, and the observer should timestamp a down when it arrives, not when the monitors leave
 * it a core. Its CPU is reported either way.
 */
export const BENCH_NICE = -5;

export const USAGE = `usage: npm run bench:liveness -- [flags]
  --nodes N            simulated nodes beating at 1 Hz                   (default 10000)
  --stop K             nodes stopped at random after the warm-up         (default 100)
  --ttl S              liveness TTL in whole seconds (= allowed misses)  (default 3)
  --backend nats|redis|all
                       nats / redis: the monitor with that backend and the raw baseline of
                       the same server; all: monitor NATS, monitor Redis, raw NATS markers,
                       raw Redis keyspace events, in one run on the same load (default all)
  --no-baselines       only the monitor row(s)
  --rows LIST          exactly these rows, comma-separated, of nats, redis, raw_nats,
                       raw_redis (overrides --backend and --no-baselines)
  --raw-nats-publish core|js
                       raw NATS beats as core publishes with Nats-TTL, or js.publish with
                       ttl awaiting an ack each                          (default core)
  --seed N             seed of the choice of stopped nodes               (default 1)
  --warmup-s S         least beating time before the stop                (default 2 x TTL)
  --up-timeout-s S     time allowed for every node to be reported up     (default 60)
  --miss-after-s S     not reported this long after the deadline = missed (default 10)
  --tail-s S           others keep beating this long after the last deadline (default 15)
  --max-sim-lag-ms N   the run is invalid if the simulator fell this far behind (default 500)
  --tick-ms N          period of the simulator's timer; a beat leaves up to this long
                       after its slot (shown as sim lag)                  (default ${TICK_MS})
  --bench-nice N       nice value of the bench process (simulator, observer) during a
                       row, so that the processes under test do not delay the fleet's beats;
                       0 leaves it alone (default ${BENCH_NICE}; needs root or CAP_SYS_NICE)
  --cpu-prof-dir DIR   write a V8 CPU profile of the (first) monitor process into DIR
  --monitors N         monitor processes sharing the fleet in a monitor row (default 1)
${REPEAT_USAGE}
                       (each run is every row again, so each run has its own ratio)
  --help`;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z
  .object({
    nodes: int(1, 200_000).default(10_000),
    stop: int(1, 200_000).default(100),
    ttl: int(1, 60).default(3),
    backend: z.enum(["nats", "redis", "all"]).default("all"),
    "no-baselines": z.boolean().default(false),
    rows: z
      .string()
      .transform((s) => s.split(",").map((x) => x.trim()))
      .pipe(z.array(z.enum(["nats", "redis", "raw_nats", "raw_redis"])).min(1))
      .optional(),
    "raw-nats-publish": z.enum(["core", "js"]).default("core"),
    seed: int(0, 2 ** 31 - 1).default(1),
    "warmup-s": int(1, 3600).optional(),
    "up-timeout-s": int(1, 3600).default(60),
    "miss-after-s": int(1, 600).default(10),
    "tail-s": int(1, 3600).default(15),
    "max-sim-lag-ms": int(1, 60_000).default(500),
    "tick-ms": int(1, 100).default(TICK_MS),
    "bench-nice": int(-20, 0).default(BENCH_NICE),
    "cpu-prof-dir": z.string().min(1).optional(),
    monitors: int(1, 4).default(1),
    ...repeatShape,
    help: z.boolean().default(false),
  })
  .refine((o) => o.stop < o.nodes, {
    path: ["stop"],
    message: "must be below --nodes (some nodes must keep beating to show false positives)",
  })
  .refine((o) => o["tail-s"] >= o["miss-after-s"], {
    path: ["tail-s"],
    message: "must be at least --miss-after-s (the run must wait for the last stopped node)",
  });

const STRINGS = [
  "nodes",
  "stop",
  "ttl",
  "backend",
  "rows",
  "raw-nats-publish",
  "seed",
  "warmup-s",
  "up-timeout-s",
  "miss-after-s",
  "tail-s",
  "max-sim-lag-ms",
  "tick-ms",
  "bench-nice",
  "cpu-prof-dir",
  "monitors",
  REPEAT_FLAG,
] as const;

/**
 * Parses the command line; throws a KonError `INVALID_OPTIONS` naming the bad flag (unknown flag,
 * missing or non-integer value, out of range, --stop not below --nodes).
 */
export function parseLivenessOptions(args: readonly string[]): LivenessOptions {
  const o = parseBenchFlags(
    args,
    { strings: [...STRINGS], booleans: ["no-baselines"] },
    schema,
    USAGE,
  );
  return {
    nodes: o.nodes,
    stop: o.stop,
    ttlS: o.ttl,
    backend: o.backend,
    baselines: !o["no-baselines"],
    rows: o.rows,
    rawNatsPublish: o["raw-nats-publish"],
    seed: o.seed,
    warmupS: o["warmup-s"] ?? 2 * o.ttl,
    upTimeoutS: o["up-timeout-s"],
    missAfterS: o["miss-after-s"],
    tailS: o["tail-s"],
    maxSimLagMs: o["max-sim-lag-ms"],
    tickMs: o["tick-ms"],
    benchNice: o["bench-nice"],
    cpuProfDir: o["cpu-prof-dir"],
    monitors: o.monitors,
    repeat: o.repeat,
    help: o.help,
  };
}

/** The rows a run measures, monitor rows first: each monitor backend, then its raw baseline. */
export function rowsFor(o: Pick<LivenessOptions, "backend" | "baselines" | "rows">): RowKey[] {
  if (o.rows) return [...new Set(o.rows)];
  const monitors: RowKey[] = o.backend === "all" ? ["nats", "redis"] : [o.backend];
  const baselines: RowKey[] = o.baselines
    ? monitors.map((m) => (m === "nats" ? "raw_nats" : "raw_redis"))
    : [];
  return [...monitors, ...baselines];
}
