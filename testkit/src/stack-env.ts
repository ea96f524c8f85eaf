import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

/** Where each server binary lives and how to run it, as written by `make deps` (scripts/deps.sh). */
export interface StackEnv {
  natsServer: string;
  /** Directory of postgres, initdb and psql (a path inside `pgRoot` when that is set). */
  pgBin: string;
  /** chroot directory to run PostgreSQL in, or "" to run it directly. */
  pgRoot: string;
  pgUser: string;
  redisServer: string;
  redisRoot: string;
  redisUser: string;
  /** etcd binary, provisioned only by `make bench-deps` (benchmark comparison); "" when absent. */
  etcd: string;
  /** Versions as printed by the binaries when `make deps` checked them. */
  versions: { nats: string; postgres: string; timescaledb: string; redis: string };
}

const KEYS = [
  "KON_NATS_SERVER",
  "KON_NATS_VERSION",
  "KON_PG_BIN",
  "KON_PG_ROOT",
  "KON_PG_USER",
  "KON_PG_VERSION",
  "KON_TIMESCALEDB_VERSION",
  "KON_REDIS_SERVER",
  "KON_REDIS_ROOT",
  "KON_REDIS_USER",
  "KON_REDIS_VERSION",
  "KON_ETCD",
] as const;
type Key = (typeof KEYS)[number];

/** Finds `.stack/stack.env` from KON_STACK_ENV, or by walking up from `start`. */
export function findStackEnvFile(start: string = __dirname): string | undefined {
  if (process.env.KON_STACK_ENV) return resolve(process.env.KON_STACK_ENV);
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    const candidate = join(dir, ".stack", "stack.env");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

export function parseStackEnv(text: string): Partial<Record<Key, string>> {
  const out: Partial<Record<Key, string>> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m && (KEYS as readonly string[]).includes(m[1]!)) out[m[1] as Key] = m[2]!;
  }
  return out;
}

let cached: StackEnv | undefined;

/**
 * Reads the stack description written by `make deps`. Without one, the same KON_* variables are
 * taken from the environment (binaries installed some other way, run directly).
 */
export function loadStackEnv(): StackEnv {
  if (cached) return cached;
  const file = findStackEnvFile();
  const v: Partial<Record<Key, string>> = file
    ? parseStackEnv(readFileSync(file, "utf8"))
    : Object.fromEntries(KEYS.map((k) => [k, process.env[k]]));
  const missing = (["KON_NATS_SERVER", "KON_PG_BIN", "KON_REDIS_SERVER"] as const).filter(
    (k) => !v[k],
  );
  if (missing.length > 0) {
    throw new Error(
      `testkit: no server binaries known (${missing.join(", ")} unset and no .stack/stack.env found): run 'make deps' first`,
    );
  }
  cached = {
    natsServer: v.KON_NATS_SERVER!,
    pgBin: v.KON_PG_BIN!,
    pgRoot: v.KON_PG_ROOT ?? "",
    pgUser: v.KON_PG_USER ?? "",
    redisServer: v.KON_REDIS_SERVER!,
    redisRoot: v.KON_REDIS_ROOT ?? "",
    redisUser: v.KON_REDIS_USER ?? "",
    etcd: v.KON_ETCD ?? "",
    versions: {
      nats: v.KON_NATS_VERSION ?? "",
      postgres: v.KON_PG_VERSION ?? "",
      timescaledb: v.KON_TIMESCALEDB_VERSION ?? "",
      redis: v.KON_REDIS_VERSION ?? "",
    },
  };
  return cached;
}
