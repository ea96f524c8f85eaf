import { z } from "zod";
import { KonError, KonErrorCode } from "../errors";
import { PREFIX } from "../wire/names";
import { envList, envNumber, envString } from "./env-readers";

/** NATS servers: a comma-separated string or a list, at least one. */
export const serversOption = z
  .union([z.string(), z.array(z.string())])
  .transform((s) => (Array.isArray(s) ? s : s.split(",")).map((x) => x.trim()).filter(Boolean))
  .pipe(z.array(z.string().min(1)).min(1, "at least one server"));

/** Name prefix of buckets, subjects and streams. */
export const prefixOption = z
  .string()
  .regex(PREFIX, "use 1-16 of [a-z0-9_], starting with a letter");

/** Largest config file and value in bytes (the loader's and the `file:` source's limit). */
export const maxValueBytesOption = z
  .number()
  .int()
  .min(1)
  .max(64 * 1024 * 1024);

/** JetStream replicas of what a process creates. */
export const replicasOption = z.number().int().min(1).max(5);

/** The options every process that talks to NATS has, in their zod form. */
export const natsOptionsShape = {
  servers: serversOption,
  prefix: prefixOption,
  replicas: replicasOption,
  token: z.string().optional(),
  user: z.string().optional(),
  pass: z.string().optional(),
};

/** How to reach NATS, as every service takes it. */
export interface NatsOptions {
  /** NATS servers (KON_SERVERS, comma-separated). @default "nats://127.0.0.1:4222" */
  servers?: string | string[];
  /** Name prefix of buckets, subjects and streams (KON_PREFIX). @default "kon" */
  prefix?: string;
  /** JetStream replicas of buckets and streams this process creates (KON_REPLICAS). @default 1 */
  replicas?: number;
  /** NATS auth token (KON_TOKEN). */
  token?: string;
  /** NATS user and password (KON_USER, KON_PASSWORD). */
  user?: string;
  pass?: string;
}

/** {@link NatsOptions} given, then KON_* variables, then defaults (not yet validated). */
export function mergeNatsOptions(given: NatsOptions, env: NodeJS.ProcessEnv) {
  return {
    servers: given.servers ?? envList(env, "KON_SERVERS") ?? "nats://127.0.0.1:4222",
    prefix: given.prefix ?? envString(env, "KON_PREFIX") ?? "kon",
    replicas: given.replicas ?? envNumber(env, "KON_REPLICAS") ?? 1,
    token: given.token ?? envString(env, "KON_TOKEN"),
    user: given.user ?? envString(env, "KON_USER"),
    pass: given.pass ?? envString(env, "KON_PASSWORD"),
  };
}

/**
 * Validates merged options; throws a KonError naming the first bad field:
 * `invalid <what> option <field>: <reason>`.
 */
export function parseOptionsWith<S extends z.ZodType>(
  schema: S,
  merged: unknown,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.map(String).join(".") || "options";
    throw new KonError(
      KonErrorCode.InvalidOptions,
      `invalid ${what ? `${what} ` : ""}option ${field}: ${issue.message}`,
    );
  }
  return parsed.data;
}
