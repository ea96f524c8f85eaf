import { hostname } from "node:os";
import { resolve } from "node:path";
import { z } from "zod";
import { KonError, KonErrorCode } from "@konorkestra/sdk";

/** Options of {@link createConfigLoader}. Every one has an environment form (`KON_*`). */
export interface ConfigLoaderOptions {
  /** Config root, laid out `<root>/<group>/<key>.{json,yaml,yml}` (KON_CONFIG_DIR). Required. */
  configDir?: string;
  /** NATS servers (KON_SERVERS, comma-separated). @default "nats://127.0.0.1:4222" */
  servers?: string | string[];
  /** Name prefix of buckets, subjects and streams (KON_PREFIX). @default "kon" */
  prefix?: string;
  /** Admin HTTP address (KON_LOADER_HOST). @default "127.0.0.1" */
  host?: string;
  /** Admin HTTP port; 0 picks a free one (KON_LOADER_PORT). @default 7001 */
  port?: number;
  /** Largest accepted file, and largest payload, in bytes (KON_MAX_VALUE_BYTES). @default 1048576 */
  maxValueBytes?: number;
  /** Quiet time after the last file event before a change set is cut (KON_DEBOUNCE_MS). @default 50 */
  debounceMs?: number;
  /** Longest a burst of events may delay a change set (KON_DEBOUNCE_MAX_MS). @default 1000 */
  debounceMaxMs?: number;
  /**
   * Keep keys whose file is gone instead of deleting them (KON_KEEP_DELETED=1). Useful while
   * migrating keys that are also written by hand with `kon put`. @default false
   */
  keepDeleted?: boolean;
  /** JetStream replicas of config buckets created by the loader (KON_REPLICAS). @default 1 */
  replicas?: number;
  /** Revisions kept per config key, at least 32 (KON_HISTORY). @default 64 */
  history?: number;
  /**
   * Full reconcile every this many ms as a safety net for missed file events; 0 turns it off
   * (KON_RESYNC_MS). @default 60000
   */
  resyncMs?: number;
  /** Written into `ConfigEntry.published_by` (KON_LOADER_ID). @default "config-loader:<host>:<pid>" */
  loaderId?: string;
  /** Read git commit and author of the config folder when it is a work tree (KON_GIT=0 turns it off). @default true */
  git?: boolean;
  /** NATS auth token (KON_TOKEN). */
  token?: string;
  /** NATS user and password (KON_USER, KON_PASSWORD). */
  user?: string;
  pass?: string;
}

const schema = z.object({
  configDir: z
    .string({ error: "required (set KON_CONFIG_DIR or pass configDir)" })
    .min(1, "required (set KON_CONFIG_DIR or pass configDir)")
    .transform((d) => resolve(d)),
  servers: z
    .union([z.string(), z.array(z.string())])
    .transform((s) => (Array.isArray(s) ? s : s.split(",")).map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.string().min(1)).min(1, "at least one server")),
  prefix: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,15}$/, "use 1-16 of [a-z0-9_], starting with a letter"),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  maxValueBytes: z
    .number()
    .int()
    .min(1)
    .max(64 * 1024 * 1024),
  debounceMs: z.number().int().min(0).max(60_000),
  debounceMaxMs: z.number().int().min(0).max(600_000),
  keepDeleted: z.boolean(),
  replicas: z.number().int().min(1).max(5),
  history: z.number().int().min(32, "at least 32 revisions").max(64),
  resyncMs: z.number().int().min(0),
  loaderId: z.string().min(1),
  git: z.boolean(),
  token: z.string().optional(),
  user: z.string().optional(),
  pass: z.string().optional(),
});

/** Options after defaults and validation. */
export type ResolvedLoaderOptions = z.output<typeof schema>;

const bool = (v: string | undefined): boolean | undefined =>
  v === undefined || v === "" ? undefined : ["1", "true", "yes"].includes(v.toLowerCase());
const num = (v: string | undefined): number | undefined =>
  v === undefined || v === "" ? undefined : Number(v);

/** Options given, then KON_* variables, then defaults; throws a KonError naming the bad field. */
export function parseConfigLoaderOptions(
  given: ConfigLoaderOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedLoaderOptions {
  const merged = {
    configDir: given.configDir ?? env.KON_CONFIG_DIR,
    servers: given.servers ?? env.KON_SERVERS ?? "nats://127.0.0.1:4222",
    prefix: given.prefix ?? env.KON_PREFIX ?? "kon",
    host: given.host ?? env.KON_LOADER_HOST ?? "127.0.0.1",
    port: given.port ?? num(env.KON_LOADER_PORT) ?? 7001,
    maxValueBytes: given.maxValueBytes ?? num(env.KON_MAX_VALUE_BYTES) ?? 1024 * 1024,
    debounceMs: given.debounceMs ?? num(env.KON_DEBOUNCE_MS) ?? 50,
    debounceMaxMs: given.debounceMaxMs ?? num(env.KON_DEBOUNCE_MAX_MS) ?? 1000,
    keepDeleted: given.keepDeleted ?? bool(env.KON_KEEP_DELETED) ?? false,
    replicas: given.replicas ?? num(env.KON_REPLICAS) ?? 1,
    history: given.history ?? num(env.KON_HISTORY) ?? 64,
    resyncMs: given.resyncMs ?? num(env.KON_RESYNC_MS) ?? 60_000,
    loaderId: given.loaderId ?? env.KON_LOADER_ID ?? `config-loader:${hostname()}:${process.pid}`,
    git: given.git ?? bool(env.KON_GIT) ?? true,
    token: given.token ?? env.KON_TOKEN,
    user: given.user ?? env.KON_USER,
    pass: given.pass ?? env.KON_PASSWORD,
  };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".") || "options";
    throw new KonError(KonErrorCode.InvalidOptions, `invalid option ${field}: ${issue.message}`);
  }
  return parsed.data;
}
