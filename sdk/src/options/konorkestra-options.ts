import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";
import { z } from "zod";
import { DEFAULT_MAX_VALUE_BYTES } from "../config-files/config-file-parser";
import { NODE_ID_SUFFIX, NODE_ID_SUFFIX_RULE } from "../identity";
import { GROUP_NAME } from "../wire/names";
import {
  maxValueBytesOption,
  mergeNatsOptions,
  natsOptionsShape,
  parseOptionsWith,
} from "./common-options";
import type { NatsOptions } from "./common-options";
import { envBool, envNumber, envString } from "./env-readers";
import type { EnvVars } from "./env-readers";

/** Options of {@link Konorkestra.connect}. Every one has an environment default. */
export interface KonorkestraOptions extends NatsOptions {
  /** Group this process belongs to (KON_GROUP). Required. */
  group?: string;
  /** Node id (KON_NODE_ID); otherwise derived, see `nodeIdSource`. */
  nodeId?: string;
  /** `aws` asks IMDSv2 for the instance id (KON_NODE_ID_SOURCE). @default "auto" */
  nodeIdSource?: "auto" | "aws";
  /** Metadata service base URL (KON_AWS_METADATA_URL). @default "http://169.254.169.254" */
  awsMetadataUrl?: string;
  /**
   * Appended as `-<suffix>` to the node id, explicit or derived from any source (MAC address,
   * host name, AWS instance id), so that several processes of one host are distinct, stable
   * nodes: 1–64 characters of `[A-Za-z0-9_=-]` (KON_NODE_ID_SUFFIX). `kon run` sets it to the
   * config key it runs under.
   */
  nodeIdSuffix?: string;
  /** Append the pid to the node id, after any suffix (KON_NODE_ID_APPEND_PID=on). @default false */
  nodeIdAppendPid?: boolean;
  /** Service name reported in heartbeats (KON_SERVICE). @default the process title */
  service?: string;
  /** `nats`, or `file:<dir>` to read config from a local folder (KON_CONFIG_SOURCE). @default "nats" */
  configSource?: string;
  /**
   * Largest config file (and value) a `file:` source accepts, in bytes, as the config-loader's
   * own limit (KON_MAX_VALUE_BYTES). @default 1048576
   */
  maxValueBytes?: number;
  /**
   * Private directory of last-known-good snapshots (KON_SNAPSHOT_DIR), created 0700 with files
   * 0600. A directory writable by group or others, or owned by another user, is refused
   * (`SNAPSHOT_DIR_UNSAFE`). @default "$XDG_STATE_HOME/konorkestra", else
   * "~/.local/state/konorkestra"
   */
  snapshotDir?: string;
  /**
   * How long `connect` tries to reach NATS before it fails or starts offline (see
   * `offlineStart`) (KON_CONNECT_TIMEOUT_MS). @default 3000
   */
  connectTimeoutMs?: number;
  /**
   * What `connect` does when NATS does not answer within `connectTimeoutMs` (KON_OFFLINE_START):
   * - `fail`: reject with `NATS_UNREACHABLE` (what, where, why).
   * - `snapshot`: resolve offline, serve config from the last-known-good snapshot, keep trying.
   * - `auto`: `snapshot` when this group's snapshot was written by a process connected to the
   *   same servers (a restart during a NATS outage after a successful start), else `fail` (a
   *   first start, or a wrong address).
   *
   * A refused credential or TLS failure always fails at once. After a successful connect, an
   * outage never ends the process: it reconnects and keeps its values.
   * @default "auto"
   */
  offlineStart?: OfflineStart;
}

/** See {@link KonorkestraOptions.offlineStart}. */
export type OfflineStart = "auto" | "snapshot" | "fail";

/**
 * The default snapshot directory: `$XDG_STATE_HOME/konorkestra` (an absolute XDG_STATE_HOME
 * only, as the XDG spec says), else `~/.local/state/konorkestra`. Never a shared temp dir: the
 * snapshot holds config values, secrets included.
 */
export function defaultSnapshotDir(env: EnvVars = process.env): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "konorkestra");
  return join(homedir(), ".local", "state", "konorkestra");
}

const schema = z.object({
  ...natsOptionsShape,
  group: z
    .string({ error: "required (set KON_GROUP or pass group)" })
    .regex(GROUP_NAME, "use 1-63 of [a-z0-9-]"),
  nodeId: z.string().min(1).optional(),
  nodeIdSource: z.enum(["auto", "aws"]),
  awsMetadataUrl: z.string().url(),
  nodeIdSuffix: z
    .string()
    .regex(NODE_ID_SUFFIX, {
      error: (iss) =>
        `${JSON.stringify(String(iss.input).slice(0, 80))} (given, or KON_NODE_ID_SUFFIX): ${NODE_ID_SUFFIX_RULE}`,
    })
    .optional(),
  nodeIdAppendPid: z.boolean(),
  service: z.string().min(1),
  configSource: z.string().regex(/^(nats|file:.+)$/, "use 'nats' or 'file:<dir>'"),
  maxValueBytes: maxValueBytesOption,
  snapshotDir: z.string().min(1),
  connectTimeoutMs: z.number().int().min(0),
  offlineStart: z.enum(["auto", "snapshot", "fail"], {
    error: "use auto, snapshot or fail",
  }),
});

export type ResolvedOptions = z.output<typeof schema>;

/** Options given, then KON_* variables, then defaults; throws a KonError naming the bad field. */
export function parseKonorkestraOptions(
  given: KonorkestraOptions = {},
  env: EnvVars = process.env,
): ResolvedOptions {
  return parseOptionsWith(
    schema,
    {
      ...mergeNatsOptions(given, env),
      group: given.group ?? envString(env, "KON_GROUP"),
      nodeId: given.nodeId ?? envString(env, "KON_NODE_ID"),
      nodeIdSource: given.nodeIdSource ?? envString(env, "KON_NODE_ID_SOURCE") ?? "auto",
      awsMetadataUrl:
        given.awsMetadataUrl ?? envString(env, "KON_AWS_METADATA_URL") ?? "http://169.254.169.254",
      nodeIdSuffix: given.nodeIdSuffix ?? envString(env, "KON_NODE_ID_SUFFIX"),
      nodeIdAppendPid: given.nodeIdAppendPid ?? envBool(env, "KON_NODE_ID_APPEND_PID") ?? false,
      service: given.service ?? envString(env, "KON_SERVICE") ?? process.title,
      configSource: given.configSource ?? envString(env, "KON_CONFIG_SOURCE") ?? "nats",
      maxValueBytes:
        given.maxValueBytes ?? envNumber(env, "KON_MAX_VALUE_BYTES") ?? DEFAULT_MAX_VALUE_BYTES,
      snapshotDir:
        given.snapshotDir ?? envString(env, "KON_SNAPSHOT_DIR") ?? defaultSnapshotDir(env),
      connectTimeoutMs: given.connectTimeoutMs ?? envNumber(env, "KON_CONNECT_TIMEOUT_MS") ?? 3000,
      offlineStart: given.offlineStart ?? envString(env, "KON_OFFLINE_START") ?? "auto",
    },
    "",
  );
}
