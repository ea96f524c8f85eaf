import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { KonError, KonErrorCode } from "./errors";
import { GROUP_NAME } from "./names";

/** Options of {@link Konorkestra.connect}. Every one has an environment default. */
export interface KonorkestraOptions {
  /** NATS servers (KON_SERVERS, comma-separated). @default "nats://127.0.0.1:4222" */
  servers?: string | string[];
  /** Group this process belongs to (KON_GROUP). Required. */
  group?: string;
  /** Node id (KON_NODE_ID); otherwise derived, see `nodeIdSource`. */
  nodeId?: string;
  /** `aws` asks IMDSv2 for the instance id (KON_NODE_ID_SOURCE). @default "auto" */
  nodeIdSource?: "auto" | "aws";
  /** Metadata service base URL (KON_AWS_METADATA_URL). @default "http://169.254.169.254" */
  awsMetadataUrl?: string;
  /** Append the pid to a derived node id (KON_NODE_ID_APPEND_PID=1). @default false */
  nodeIdAppendPid?: boolean;
  /** Name prefix of buckets, subjects and streams (KON_PREFIX). @default "kon" */
  prefix?: string;
  /** Service name reported in heartbeats (KON_SERVICE). @default the process title */
  service?: string;
  /** `nats`, or `file:<dir>` to read config from a local folder (KON_CONFIG_SOURCE). @default "nats" */
  configSource?: string;
  /** Directory of last-known-good snapshots (KON_SNAPSHOT_DIR). @default "<tmpdir>/konorkestra" */
  snapshotDir?: string;
  /** How long `connect` waits for NATS before going on offline (KON_CONNECT_TIMEOUT_MS). @default 3000 */
  connectTimeoutMs?: number;
  /** NATS auth token (KON_TOKEN). */
  token?: string;
  /** NATS user and password (KON_USER, KON_PASSWORD). */
  user?: string;
  pass?: string;
  /** JetStream replicas for buckets and streams this process creates (KON_REPLICAS). @default 1 */
  replicas?: number;
}

const schema = z.object({
  servers: z
    .union([z.string(), z.array(z.string())])
    .transform((s) => (Array.isArray(s) ? s : s.split(",")).map((x) => x.trim()).filter(Boolean))
    .pipe(z.array(z.string().min(1)).min(1, "at least one server")),
  group: z
    .string({ error: "required (set KON_GROUP or pass group)" })
    .regex(GROUP_NAME, "use 1-63 of [a-z0-9-]"),
  nodeId: z.string().min(1).optional(),
  nodeIdSource: z.enum(["auto", "aws"]),
  awsMetadataUrl: z.string().url(),
  nodeIdAppendPid: z.boolean(),
  prefix: z.string().regex(/^[a-z][a-z0-9_]{0,15}$/),
  service: z.string().min(1),
  configSource: z.string().regex(/^(nats|file:.+)$/, "use 'nats' or 'file:<dir>'"),
  snapshotDir: z.string().min(1),
  connectTimeoutMs: z.number().int().min(0),
  token: z.string().optional(),
  user: z.string().optional(),
  pass: z.string().optional(),
  replicas: z.number().int().min(1).max(5),
});

export type ResolvedOptions = z.output<typeof schema>;

const bool = (v: string | undefined): boolean | undefined =>
  v === undefined ? undefined : ["1", "true", "yes"].includes(v.toLowerCase());
const num = (v: string | undefined): number | undefined =>
  v === undefined || v === "" ? undefined : Number(v);

/** Options given, then KON_* variables, then defaults; throws a KonError naming the bad field. */
export function parseKonorkestraOptions(
  given: KonorkestraOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): ResolvedOptions {
  const merged = {
    servers: given.servers ?? env.KON_SERVERS ?? "nats://127.0.0.1:4222",
    group: given.group ?? env.KON_GROUP,
    nodeId: given.nodeId ?? env.KON_NODE_ID,
    nodeIdSource: given.nodeIdSource ?? env.KON_NODE_ID_SOURCE ?? "auto",
    awsMetadataUrl: given.awsMetadataUrl ?? env.KON_AWS_METADATA_URL ?? "http://169.254.169.254",
    nodeIdAppendPid: given.nodeIdAppendPid ?? bool(env.KON_NODE_ID_APPEND_PID) ?? false,
    prefix: given.prefix ?? env.KON_PREFIX ?? "kon",
    service: given.service ?? env.KON_SERVICE ?? process.title,
    configSource: given.configSource ?? env.KON_CONFIG_SOURCE ?? "nats",
    snapshotDir: given.snapshotDir ?? env.KON_SNAPSHOT_DIR ?? join(tmpdir(), "konorkestra"),
    connectTimeoutMs: given.connectTimeoutMs ?? num(env.KON_CONNECT_TIMEOUT_MS) ?? 3000,
    token: given.token ?? env.KON_TOKEN,
    user: given.user ?? env.KON_USER,
    pass: given.pass ?? env.KON_PASSWORD,
    replicas: given.replicas ?? num(env.KON_REPLICAS) ?? 1,
  };
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join(".") || "options";
    throw new KonError(KonErrorCode.InvalidOptions, `invalid option ${field}: ${issue.message}`);
  }
  return parsed.data;
}
