import { basename } from "node:path";
import { Kvm } from "@nats-io/kv";
import type { KV, KvEntry, KvWatchEntry } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, QueuedIterator } from "@nats-io/transport-node";
import { ConfigEntry } from "@konorkestra/proto";
import {
  credentialOptions,
  describeServers,
  groupInboxPrefix,
  isPermissionDenied,
  sha256Hex,
  wireNames,
} from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";

import { CliError, ExitCode } from "../exit-codes";
import { TLS_FAILURE } from "./http-client";

/** How a member connection reaches NATS. */
export interface MemberOptions {
  servers: string[];
  caFile: string | undefined;
  joinKey: string;
  group: string;
  /** Name prefix of buckets and subjects (KON_PREFIX). @default "kon" */
  prefix?: string;
  timeoutMs?: number;
}

/** One config value as a member reads it from the group's bucket. */
export interface MemberConfig {
  key: string;
  revision: number;
  value: unknown;
  sha256: string;
  updatedAtMs: number;
  sourcePath: string;
  gitCommit: string;
  gitAuthor: string;
  publishedBy: string;
}

/**
 * A connection with a group's join key, as a service of the group has: the server's auth callout
 * exchanges the key for the group's rights (read its bucket, nothing else). Used by `kon join`
 * and `kon watch`; needs no admin account.
 */
export class MemberConnection {
  private constructor(
    readonly nc: NatsConnection,
    readonly kv: KV,
    readonly names: WireNames,
    readonly group: string,
  ) {}

  static async open(o: MemberOptions): Promise<MemberConnection> {
    const names = wireNames(o.prefix ?? "kon");
    const where = `NATS at ${describeServers(o.servers)}`;
    let nc: NatsConnection;
    try {
      nc = await connect({
        servers: o.servers,
        name: "kon:cli",
        timeout: o.timeoutMs ?? 5000,
        maxReconnectAttempts: 10,
        reconnectTimeWait: 250,
        inboxPrefix: groupInboxPrefix(names, o.group),
        ...credentialOptions({ joinKey: o.joinKey, tlsCa: o.caFile }),
      });
    } catch (err) {
      throw connectFailure(err, where);
    }
    try {
      const kv = await new Kvm(nc).open(names.configBucket(o.group));
      await kv.status();
      return new MemberConnection(nc, kv, names, o.group);
    } catch (err) {
      await nc.close();
      const msg = err instanceof Error ? err.message : String(err);
      if (isPermissionDenied(err)) {
        throw new CliError(ExitCode.Refused, `the join key does not admit to group '${o.group}'`, {
          where,
          hint: "is it this group's key? (kon group show GROUP lists its key ids)",
        });
      }
      if (/not found/i.test(msg)) {
        throw new CliError(ExitCode.NotFound, `group '${o.group}' has no config bucket`, { where });
      }
      throw new CliError(ExitCode.Failed, `cannot open the config of '${o.group}': ${msg}`, {
        where,
      });
    }
  }

  /** Every current key of the group (sorted). */
  async keys(): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.kv.keys()) out.push(k);
    return out.sort();
  }

  /** The current value of `key`, or undefined when it has none (never set, or deleted). */
  async read(key: string): Promise<MemberConfig | undefined> {
    const e = await this.kv.get(key);
    if (!e || e.operation !== "PUT") return undefined;
    return decodeEntry(e);
  }

  /** The key's value now, then every change (puts, deletes), until the iterator is stopped. */
  watch(key: string): Promise<QueuedIterator<KvWatchEntry>> {
    return this.kv.watch({ key });
  }

  async close(): Promise<void> {
    await this.nc.drain().catch(() => this.nc.close());
  }
}

/** Decodes a bucket entry; the payload's sha256 is recomputed, as every reader must. */
export function decodeEntry(e: KvEntry): MemberConfig {
  let entry: ConfigEntry;
  try {
    entry = ConfigEntry.decode(e.value);
  } catch (err) {
    throw new CliError(ExitCode.Failed, `key ${e.key}: not a ConfigEntry: ${String(err)}`);
  }
  const sha = sha256Hex(entry.payload);
  if (entry.sha256 && sha !== entry.sha256) {
    throw new CliError(
      ExitCode.Failed,
      `key ${e.key} revision ${e.revision}: payload sha256 ${sha} differs from the entry's ${entry.sha256}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(entry.payload).toString("utf8"));
  } catch {
    throw new CliError(ExitCode.Failed, `key ${e.key}: payload is not JSON`);
  }
  return {
    key: e.key,
    revision: e.revision,
    value,
    sha256: sha,
    updatedAtMs: Number(entry.updatedAtMs),
    sourcePath: entry.sourcePath,
    gitCommit: entry.gitCommit,
    gitAuthor: entry.gitAuthor,
    publishedBy: entry.publishedBy,
  };
}

/** A key as a file name under `--out`: keys are subject tokens, never paths, but check anyway. */
export function keyFileName(key: string): string {
  const name = `${key}.json`;
  if (basename(name) !== name || key.startsWith(".")) {
    throw new CliError(ExitCode.Failed, `key ${JSON.stringify(key)} cannot name a file`);
  }
  return name;
}

function connectFailure(err: unknown, where: string): CliError {
  const e = err instanceof Error ? err : new Error(String(err));
  const cause = (e as { cause?: NodeJS.ErrnoException }).cause;
  const code = cause?.code ?? (e as NodeJS.ErrnoException).code ?? "";
  const why = code && !e.message.includes(code) ? `${e.message} (${code})` : e.message;
  if (/Authoriz|authoriz|AuthenticationExpired/.test(`${e.name} ${why}`)) {
    return new CliError(ExitCode.Refused, `the join key was refused: ${why}`, {
      where,
      hint: "check the key (kon group show GROUP lists the valid key ids)",
    });
  }
  if (TLS_FAILURE.test(code) || /certificate|\bTLS\b|\bSSL\b/i.test(why)) {
    return new CliError(ExitCode.Unreachable, `TLS with NATS failed: ${why}`, {
      where,
      hint: "set the stack's CA: kon context set NAME --ca-file PATH, or KON_TLS_CA",
    });
  }
  return new CliError(ExitCode.Unreachable, `cannot reach NATS: ${why}`, {
    where,
    hint: "is the stack running? check natsUrl with 'kon context show' (or KON_SERVERS)",
  });
}
