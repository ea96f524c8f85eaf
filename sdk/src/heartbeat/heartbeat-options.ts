import { z } from "zod";
import { KonError, KonErrorCode } from "../errors";

/** Most labels a heartbeat carries in `meta`. */
export const MAX_META_ENTRIES = 32;
/** Most bytes (UTF-8, keys plus values) a heartbeat's `meta` may hold. */
export const MAX_META_BYTES = 4096;
/** Shortest heartbeat period; also the least time between two beats of one process. */
export const MIN_INTERVAL_MS = 100;
/** Label names: what dashboards, SQL and Prometheus-style tooling accept without quoting. */
const META_KEY = /^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/;

/**
 * Options of {@link Konorkestra.heartbeat}.
 *
 * The monitor keeps a node alive for `ceil(intervalMs × misses / 1000)` seconds after each beat
 * (NATS per-key TTLs are whole seconds, at least 1 s), so with `intervalMs: 100, misses: 3` a
 * node is declared down after about 1 s of silence, not 300 ms.
 */
export interface HeartbeatOptions {
  /** Heartbeat period in ms, at least 100. @default 1000 */
  intervalMs?: number;
  /** Beats a node may miss before the monitor declares it down, 1–100. @default 3 */
  misses?: number;
  /**
   * Free-form labels (region, zone, version tags) sent with every beat. At most 32 entries and
   * 4 KiB of keys plus values (UTF-8); names are 1–63 of `[A-Za-z0-9_./-]`. @default {}
   */
  meta?: Record<string, string>;
  /** Version of the service, reported as `process.service_version`. @default "" */
  serviceVersion?: string;
  /** How long `stop()` waits for JetStream to acknowledge the leaving beat. @default 2000 */
  leaveTimeoutMs?: number;
}

const schema = z.object({
  intervalMs: z.number().int().min(MIN_INTERVAL_MS).max(3_600_000).default(1000),
  misses: z.number().int().min(1).max(100).default(3),
  meta: z
    .record(
      z.string().regex(META_KEY, "label names are 1-63 of [A-Za-z0-9_./-], starting alphanumeric"),
      z.string(),
    )
    .default({}),
  serviceVersion: z.string().max(128).default(""),
  leaveTimeoutMs: z.number().int().min(1).max(60_000).default(2000),
});

export type ResolvedHeartbeatOptions = z.output<typeof schema>;

/**
 * Validates heartbeat options and applies defaults.
 *
 * @throws {@link KonError} `INVALID_OPTIONS` naming the bad field, or
 *   `HEARTBEAT_META_TOO_LARGE` when `meta` exceeds {@link MAX_META_ENTRIES} entries or
 *   {@link MAX_META_BYTES} bytes.
 */
export function parseHeartbeatOptions(given: HeartbeatOptions = {}): ResolvedHeartbeatOptions {
  const parsed = schema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".") || "options";
    // A bad record key reports "Invalid key in record"; the reason is in the nested issue.
    const inner = issue.code === "invalid_key" ? issue.issues[0]?.message : undefined;
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `invalid heartbeat option ${field}: ${inner ?? issue.message}`,
    );
  }
  assertMetaSize(parsed.data.meta);
  return parsed.data;
}

/** Keeps heartbeats small: the monitor stores the last one per node and KON_HB stores them all. */
function assertMetaSize(meta: Record<string, string>): void {
  const entries = Object.entries(meta);
  if (entries.length > MAX_META_ENTRIES) {
    throw new KonError(
      KonErrorCode.HeartbeatMetaTooLarge,
      `heartbeat meta has ${entries.length} entries; the limit is ${MAX_META_ENTRIES}`,
    );
  }
  const bytes = entries.reduce(
    (sum, [k, v]) => sum + Buffer.byteLength(k, "utf8") + Buffer.byteLength(v, "utf8"),
    0,
  );
  if (bytes > MAX_META_BYTES) {
    throw new KonError(
      KonErrorCode.HeartbeatMetaTooLarge,
      `heartbeat meta is ${bytes} bytes (UTF-8 keys plus values); the limit is ${MAX_META_BYTES}`,
    );
  }
}
