import { Redis } from "ioredis";
import { startRedis } from "@konorkestra/testkit";
import { collectDeadlines, unwind } from "./case-driver";
import type { CaseDriver, DownListener } from "./case-driver";
import { redisVersion } from "./redis-version";

const PREFIX = "bench:node:";
const CHANNEL = "__keyevent@0__:expired";

/**
 * Baseline "raw Redis keyspace events": no monitor. Each beat is `SET bench:node:<node> <beat>
 * PX <ttl>`; with `notify-keyspace-events Ex` a subscriber on `__keyevent@0__:expired` hears
 * each expiry. A deadline is the key's `PEXPIRETIME` (Redis's own clock: time of the last SET +
 * TTL), read after the stop and before the expiry.
 */
export async function startRawRedisCase(ttlMs: number): Promise<CaseDriver> {
  const steps: (() => Promise<unknown>)[] = [];
  try {
    const redis = await startRedis();
    steps.push(() => redis.stop());
    // Auto-pipelining batches the 10k SETs/s a single connection gets into few round trips.
    const cmd = new Redis(redis.url, { enableAutoPipelining: true, maxRetriesPerRequest: 2 });
    steps.push(() => cmd.quit().catch(() => cmd.disconnect()));
    const sub = new Redis(redis.url, { maxRetriesPerRequest: 2 });
    steps.push(() => sub.quit().catch(() => sub.disconnect()));
    let errors = 0;
    let failedSets = 0;
    let lastError = "";
    const failed = (err: unknown): void => {
      errors++;
      lastError = String(err);
    };
    cmd.on("error", failed);
    sub.on("error", failed);
    await cmd.config("SET", "notify-keyspace-events", "Ex");
    const version = await redisVersion(redis.url);
    const ups = new Set<string>();
    return {
      spec: {
        key: "raw_redis",
        label: "raw Redis keyspace events (baseline)",
        deadlineBasis: "PEXPIRETIME of the key (time of the last SET + TTL)",
        detection: `message on ${CHANNEL}`,
      },
      sink: {
        send: (node, payload) => {
          const value = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
          cmd.set(PREFIX + node, value, "PX", ttlMs).then(
            () => ups.add(node),
            (err: unknown) => {
              failedSets++;
              failed(err);
            },
          );
        },
      },
      processes: { "redis-server": redis.pid },
      versions: { "redis-server": version },
      watch: async (onDown: DownListener) => {
        sub.on("message", (_channel: string, key: string) => {
          if (key.startsWith(PREFIX)) onDown(key.slice(PREFIX.length), Date.now());
        });
        await sub.subscribe(CHANNEL);
      },
      upCount: () => ups.size,
      lostBeats: () => Promise.resolve(failedSets),
      deadlines: (nodes) =>
        collectDeadlines(nodes, async (node) => {
          const at = await cmd.pexpiretime(PREFIX + node);
          return at > 0 ? { deadlineMs: at } : undefined;
        }),
      notes: () => (errors > 0 ? [`${errors} Redis errors (last: ${lastError})`] : []),
      close: () => unwind(steps),
    };
  } catch (err) {
    await unwind(steps);
    throw err;
  }
}
