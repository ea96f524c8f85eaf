import { z } from "zod";
import { parseBenchFlags } from "../bench-flags";

/** Flags of `npm run bench:scaleout -- [flags]`. */
export interface ScaleoutOptions {
  /** Simulated nodes, each beating at 1 Hz. @default 5000 */
  nodes: number;
  /** Nodes stopped (silently, as a crash) after the warm-up. @default 50 */
  stop: number;
  /** nats-servers in the JetStream cluster (streams and buckets get this many replicas, ≤ 3). @default 3 */
  servers: number;
  /** Monitor processes sharing the fleet. @default 2 */
  monitors: number;
  /** Analytics processes sharing the heartbeat stream's durable consumer. @default 2 */
  analytics: number;
  /** Liveness TTL in whole seconds (allowed misses at 1 Hz). @default 3 */
  ttlS: number;
  /** Least time every node beats before the measured window. @default 2 × TTL */
  warmupS: number;
  upTimeoutS: number;
  missAfterS: number;
  /** The others keep beating this long after the last deadline. @default 10 */
  tailS: number;
  maxSimLagMs: number;
  seed: number;
  help: boolean;
}

export const USAGE = `usage: npm run bench:scaleout -- [flags]
  --nodes N            simulated nodes beating at 1 Hz, spread over the servers (default 5000)
  --stop K             nodes stopped at random after the warm-up            (default 50)
  --servers N          nats-servers in the JetStream cluster, 1..3 (= replicas) (default 3)
  --monitors N         liveness monitor processes sharing the fleet         (default 2)
  --analytics N        analytics processes sharing the KON_HB consumer      (default 2)
  --ttl S              liveness TTL in whole seconds                        (default 3)
  --warmup-s S         least beating time before the measured window        (default 2 × TTL)
  --up-timeout-s S     how long every node may take to be reported up       (default 90)
  --miss-after-s S     a down later than this after the deadline is missed  (default 10)
  --tail-s S           the others beat this long after the last deadline,
                       at least --miss-after-s                              (default 10)
  --max-sim-lag-ms MS  the run is invalid if the simulator was later        (default 500)
  --seed N             seed of the choice of stopped nodes                  (default 1)`;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const schema = z
  .object({
    nodes: int(10, 1_000_000).default(5000),
    stop: int(1, 100_000).default(50),
    servers: int(1, 3).default(3),
    monitors: int(1, 8).default(2),
    analytics: int(1, 8).default(2),
    ttl: int(1, 60).default(3),
    "warmup-s": int(1, 600).optional(),
    "up-timeout-s": int(5, 3600).default(90),
    "miss-after-s": int(1, 600).default(10),
    "tail-s": int(1, 600).default(10),
    "max-sim-lag-ms": int(10, 60_000).default(500),
    seed: int(0, 2 ** 31).default(1),
    help: z.boolean().default(false),
  })
  .refine((o) => o.stop < o.nodes, { message: "--stop must be below --nodes", path: ["stop"] })
  // Missed is counted when the tail ends: a shorter tail would count slow downs as missed.
  .refine((o) => o["tail-s"] >= o["miss-after-s"], {
    message: "--tail-s must be at least --miss-after-s (downs are counted when the tail ends)",
    path: ["tail-s"],
  });

const STRINGS = [
  "nodes",
  "stop",
  "servers",
  "monitors",
  "analytics",
  "ttl",
  "warmup-s",
  "up-timeout-s",
  "miss-after-s",
  "tail-s",
  "max-sim-lag-ms",
  "seed",
] as const;

/** Parses the command line; a bad flag is a KonError `INVALID_OPTIONS` that names it. */
export function parseScaleoutOptions(args: readonly string[]): ScaleoutOptions {
  const o = parseBenchFlags(args, { strings: [...STRINGS], booleans: [] }, schema, USAGE);
  return {
    nodes: o.nodes,
    stop: o.stop,
    servers: o.servers,
    monitors: o.monitors,
    analytics: o.analytics,
    ttlS: o.ttl,
    warmupS: o["warmup-s"] ?? 2 * o.ttl,
    upTimeoutS: o["up-timeout-s"],
    missAfterS: o["miss-after-s"],
    tailS: o["tail-s"],
    maxSimLagMs: o["max-sim-lag-ms"],
    seed: o.seed,
    help: o.help,
  };
}
