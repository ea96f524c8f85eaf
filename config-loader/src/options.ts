import { hostname } from "node:os";
import { resolve } from "node:path";
import { z } from "zod";
import {
  maxValueBytesOption,
  DEFAULT_MAX_VALUE_BYTES,
  envBool,
  envNumber,
  envString,
  httpEdgeOptionsShape,
  mergeHttpEdgeOptions,
  mergeNatsOptions,
  natsOptionsShape,
  parseOptionsWith,
} from "@konorkestra/sdk/internal";
import type { HttpEdgeOptions, NatsOptions } from "@konorkestra/sdk/internal";

/**
 * Options of {@link createConfigLoader}. Every one has an environment form (`KON_*`), read the
 * way every Konorkestra process reads it (booleans: on/off, true/false, yes/no, 1/0).
 */
export interface ConfigLoaderOptions extends NatsOptions, HttpEdgeOptions {
  /** Config root, laid out `<root>/<group>/<key>.{json,yaml,yml}` (KON_CONFIG_DIR). Required. */
  configDir?: string;
  /** Admin HTTP address (KON_LOADER_HOST). @default "127.0.0.1" */
  host?: string;
  /** Admin HTTP port; 0 picks a free one (KON_LOADER_PORT). @default 7001 */
  port?: number;
  /**
   * File holding the shared secret of the `POST /v1/_refresh` webhook, which must carry
   * `X-Hub-Signature-256: sha256=<HMAC-SHA256 of the body>` as git hosts send it
   * (KON_LOADER_WEBHOOK_SECRET_FILE; at least 16 characters). Unset: the webhook answers 403.
   */
  webhookSecretFile?: string;
  /** Largest accepted file, and largest payload, in bytes (KON_MAX_VALUE_BYTES). @default 1048576 */
  maxValueBytes?: number;
  /** Quiet time after the last file event before a change set is cut (KON_DEBOUNCE_MS). @default 50 */
  debounceMs?: number;
  /** Longest a burst of events may delay a change set (KON_DEBOUNCE_MAX_MS). @default 1000 */
  debounceMaxMs?: number;
  /**
   * Keep keys whose file is gone instead of deleting them (KON_KEEP_DELETED=on). Useful while
   * migrating keys that are also written by hand with `kon put`. @default false
   */
  keepDeleted?: boolean;
  /** Revisions kept per config key, at least 32 (KON_HISTORY). @default 64 */
  history?: number;
  /**
   * Full reconcile every this many ms as a safety net for missed file events; 0 turns it off
   * (KON_RESYNC_MS). @default 60000
   */
  resyncMs?: number;
  /**
   * The loader re-parses only files whose stat or content changed and re-reads a bucket only when
   * its stream moved. Every this many ms (at the next full reconcile) it forgets all of that and
   * reads everything again, a safety net for a file system that lies about stat (KON_REREAD_MS).
   * @default 600000
   */
  rereadMs?: number;
  /** Written into `ConfigEntry.published_by` (KON_LOADER_ID). @default "config-loader:<host>:<pid>" */
  loaderId?: string;
  /** Read git commit and author of the config folder when it is a work tree (KON_GIT=off turns it off). @default true */
  git?: boolean;
}

const schema = z.object({
  configDir: z
    .string({ error: "required (set KON_CONFIG_DIR or pass configDir)" })
    .min(1, "required (set KON_CONFIG_DIR or pass configDir)")
    .transform((d) => resolve(d)),
  ...natsOptionsShape,
  ...httpEdgeOptionsShape,
  webhookSecretFile: z.string().min(1).optional(),
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
  maxValueBytes: maxValueBytesOption,
  debounceMs: z.number().int().min(0).max(60_000),
  debounceMaxMs: z.number().int().min(0).max(600_000),
  keepDeleted: z.boolean(),
  history: z.number().int().min(32, "at least 32 revisions").max(64),
  resyncMs: z.number().int().min(0),
  rereadMs: z.number().int().min(0),
  loaderId: z.string().min(1),
  git: z.boolean(),
});

/** Options after defaults and validation. */
export type ResolvedLoaderOptions = z.output<typeof schema>;

/** Options given, then KON_* variables, then defaults; throws a KonError naming the bad field. */
export function parseConfigLoaderOptions(
  given: ConfigLoaderOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedLoaderOptions {
  const merged = {
    ...mergeNatsOptions(given, env),
    ...mergeHttpEdgeOptions(given, env),
    webhookSecretFile: given.webhookSecretFile ?? envString(env, "KON_LOADER_WEBHOOK_SECRET_FILE"),
    configDir: given.configDir ?? envString(env, "KON_CONFIG_DIR"),
    host: given.host ?? envString(env, "KON_LOADER_HOST") ?? "127.0.0.1",
    port: given.port ?? envNumber(env, "KON_LOADER_PORT") ?? 7001,
    maxValueBytes:
      given.maxValueBytes ?? envNumber(env, "KON_MAX_VALUE_BYTES") ?? DEFAULT_MAX_VALUE_BYTES,
    debounceMs: given.debounceMs ?? envNumber(env, "KON_DEBOUNCE_MS") ?? 50,
    debounceMaxMs: given.debounceMaxMs ?? envNumber(env, "KON_DEBOUNCE_MAX_MS") ?? 1000,
    keepDeleted: given.keepDeleted ?? envBool(env, "KON_KEEP_DELETED") ?? false,
    history: given.history ?? envNumber(env, "KON_HISTORY") ?? 64,
    resyncMs: given.resyncMs ?? envNumber(env, "KON_RESYNC_MS") ?? 60_000,
    rereadMs: given.rereadMs ?? envNumber(env, "KON_REREAD_MS") ?? 600_000,
    loaderId:
      given.loaderId ??
      envString(env, "KON_LOADER_ID") ??
      `config-loader:${hostname()}:${process.pid}`,
    git: given.git ?? envBool(env, "KON_GIT") ?? true,
  };
  return parseOptionsWith(schema, merged, "");
}
