import { z } from "zod";
import { KonError, KonErrorCode } from "../errors";
import { PREFIX } from "../wire/names";
import { envList, envNumber, envString } from "./env-readers";
import type { EnvVars } from "./env-readers";

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
  joinKey: z.string().min(1).optional(),
  nkeySeedFile: z.string().min(1).optional(),
  tlsCa: z.string().min(1).optional(),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
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
  /** The group's join key, exchanged by the server's auth callout for group rights (KON_JOIN_KEY). */
  joinKey?: string;
  /** File holding this process's NATS nkey seed, for system services (KON_NKEY_SEED_FILE). */
  nkeySeedFile?: string;
  /** PEM file of the CA that signed the NATS server's certificate (KON_TLS_CA); turns TLS on. */
  tlsCa?: string;
  /** Client certificate and key for mutual TLS (KON_TLS_CERT, KON_TLS_KEY). */
  tlsCert?: string;
  tlsKey?: string;
}

/** The credential and TLS part of resolved {@link NatsOptions}, as `connectService` takes it. */
export type NatsAuth = Pick<
  NatsOptions,
  "token" | "user" | "pass" | "joinKey" | "nkeySeedFile" | "tlsCa" | "tlsCert" | "tlsKey"
>;

/** Picks the credential and TLS fields out of a service's resolved options. */
export function natsAuthOf(o: NatsAuth): NatsAuth {
  return {
    token: o.token,
    user: o.user,
    pass: o.pass,
    joinKey: o.joinKey,
    nkeySeedFile: o.nkeySeedFile,
    tlsCa: o.tlsCa,
    tlsCert: o.tlsCert,
    tlsKey: o.tlsKey,
  };
}

/** {@link NatsOptions} given, then KON_* variables, then defaults (not yet validated). */
export function mergeNatsOptions(given: NatsOptions, env: EnvVars) {
  return {
    servers: given.servers ?? envList(env, "KON_SERVERS") ?? "nats://127.0.0.1:4222",
    prefix: given.prefix ?? envString(env, "KON_PREFIX") ?? "kon",
    replicas: given.replicas ?? envNumber(env, "KON_REPLICAS") ?? 1,
    token: given.token ?? envString(env, "KON_TOKEN"),
    user: given.user ?? envString(env, "KON_USER"),
    pass: given.pass ?? envString(env, "KON_PASSWORD"),
    joinKey: given.joinKey ?? envString(env, "KON_JOIN_KEY"),
    nkeySeedFile: given.nkeySeedFile ?? envString(env, "KON_NKEY_SEED_FILE"),
    tlsCa: given.tlsCa ?? envString(env, "KON_TLS_CA"),
    tlsCert: given.tlsCert ?? envString(env, "KON_TLS_CERT"),
    tlsKey: given.tlsKey ?? envString(env, "KON_TLS_KEY"),
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
