import { z } from "zod";
import { parseBenchFlags } from "../bench-flags";

/** The faults a run can drill, in the order they run. */
export const DRILLS = ["nats", "loader", "monitor", "postgres"] as const;
export type Drill = (typeof DRILLS)[number];

/** Flags of `npm run chaos -- [flags]` (`make chaos`). */
export interface ChaosOptions {
  /** Drills to run, in this order. @default every one */
  drills: Drill[];
  /** Simulated nodes beating at 1 Hz (TTL 3 s). @default 50 */
  nodes: number;
  /** SDK connections watching the config keys (the config "nodes"). @default 5 */
  configNodes: number;
  /** Config files (keys) edited in turn. @default 4 */
  keys: number;
  /** A config edit is saved every this many ms. @default 250 */
  editEveryMs: number;
  /** How long a killed server or service stays down before it is restarted. @default 5000 */
  outageMs: number;
  /** Quiet time after a drill's recovery before the next drill. @default 8000 */
  calmMs: number;
  help: boolean;
}

export const USAGE = `usage: npm run chaos -- [flags]     (make chaos)
  --drills LIST        comma-separated, of nats, loader, monitor, postgres, run in that
                       order                                             (default all four)
  --nodes N            simulated nodes beating at 1 Hz, TTL 3 s          (default 50)
  --config-nodes N     SDK connections watching every config key         (default 5)
  --keys N             config files edited in turn                       (default 4)
  --edit-every-ms N    one config edit saved every N ms                  (default 250)
  --outage-ms N        how long a killed process stays down              (default 5000)
  --calm-ms N          quiet time after a drill's recovery               (default 8000)
  --help`;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const drillList = z
  .string()
  .transform((s, ctx) => {
    const words = s.split(",").map((w) => w.trim());
    const bad = words.filter((w) => !(DRILLS as readonly string[]).includes(w));
    if (bad.length > 0 || words.length === 0) {
      ctx.addIssue({
        code: "custom",
        message: `unknown drill ${JSON.stringify(bad[0] ?? "")}; choose from ${DRILLS.join(", ")}`,
      });
      return z.NEVER;
    }
    // Run order is fixed (and each at most once), whatever order the list gave.
    return DRILLS.filter((d) => words.includes(d));
  })
  .default([...DRILLS]);

const schema = z.object({
  drills: drillList,
  nodes: int(2, 5000).default(50),
  "config-nodes": int(1, 100).default(5),
  keys: int(1, 100).default(4),
  "edit-every-ms": int(20, 60_000).default(250),
  "outage-ms": int(0, 120_000).default(5000),
  "calm-ms": int(0, 300_000).default(8000),
  help: z.boolean().default(false),
});

/** Parses argv (after the script name); a bad flag is a KonError naming it, with the usage. */
export function parseChaosOptions(args: readonly string[]): ChaosOptions {
  const o = parseBenchFlags(
    args,
    {
      strings: ["drills", "nodes", "config-nodes", "keys", "edit-every-ms", "outage-ms", "calm-ms"],
      booleans: [],
    },
    schema,
    USAGE,
  );
  return {
    drills: o.drills,
    nodes: o.nodes,
    configNodes: o["config-nodes"],
    keys: o.keys,
    editEveryMs: o["edit-every-ms"],
    outageMs: o["outage-ms"],
    calmMs: o["calm-ms"],
    help: o.help,
  };
}
