import type { Command } from "commander";

import { AdminConfigs } from "../client/admin-configs";
import { decodeEntry } from "../client/member-connection";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { parsePollInterval } from "./duration";
import { configKeyArg } from "./config-input";
import { groupOf } from "./group-command";
import { action } from "./invocation";
import type { Invocation } from "./invocation";
import { joinKeyArg, openMember } from "./join-command";
import { countOption, pollLoop } from "./poll-loop";

/** One value `kon watch` prints (a JSON line with --json). */
export interface WatchedValue {
  group: string;
  key: string;
  /** 0 when the key has no value (never set, or deleted). */
  revision: number;
  operation: "put" | "delete";
  value: unknown;
  sha256: string | null;
  atMs: number;
}

interface WatchFlags {
  group?: string;
  joinKey?: string;
  interval: string;
  count?: number;
}

/** `kon watch KEY`: the value now, then every change. */
export function registerConfigWatchCommand(program: Command, io: CliIo): void {
  program
    .command("watch")
    .description(
      "print a key's value and every change to it: live as a member with a join key, else by polling the admin API",
    )
    .argument("<key>", "config key")
    .option("-g, --group <group>", "the group (KON_GROUP)")
    .option("--join-key <key>", "watch as a member of the group ('-': KON_JOIN_KEY)")
    .option("--interval <duration>", "how often to ask the admin API without a join key", "2s")
    .option("--count <n>", "stop after n values", countOption)
    .action(action(io, watch));
}

function print(inv: Invocation, v: WatchedValue): void {
  if (inv.out.mode === "json") return inv.out.jsonLine(v);
  if (inv.out.mode === "quiet") return inv.out.line(JSON.stringify(v.value));
  const head =
    v.operation === "delete"
      ? `${v.group}/${v.key} deleted`
      : `${v.group}/${v.key} revision ${v.revision} sha256 ${v.sha256?.slice(0, 12) ?? "-"}`;
  inv.out.line(inv.out.colors.bold(`# ${new Date(v.atMs).toISOString()}  ${head}`));
  if (v.operation === "put") inv.out.line(JSON.stringify(v.value, null, 2));
}

async function watch(inv: Invocation, key: string, f: WatchFlags): Promise<void> {
  configKeyArg(key);
  const group = groupOf(inv.io.env, f.group);
  const joinKey = f.joinKey !== undefined ? joinKeyArg(inv, f.joinKey) : undefined;
  if (joinKey) await watchAsMember(inv, group, key, joinKey, f.count);
  else await watchByPolling(inv, group, key, parsePollInterval(f.interval, "--interval"), f.count);
}

/** A KV watch on the group's bucket, as the SDK's: changes arrive as they are published. */
async function watchAsMember(
  inv: Invocation,
  group: string,
  key: string,
  joinKey: string,
  count: number | undefined,
): Promise<void> {
  const member = await openMember(inv, joinKey, group);
  const it = await member.watch(key);
  const stop = () => it.stop();
  inv.io.signal?.addEventListener("abort", stop);
  process.once("SIGINT", stop);
  let n = 0;
  try {
    for await (const e of it) {
      const put = e.operation === "PUT";
      const c = put ? decodeEntry(e) : undefined;
      print(inv, {
        group,
        key,
        revision: put ? e.revision : 0,
        operation: put ? "put" : "delete",
        value: c?.value ?? null,
        sha256: c?.sha256 ?? null,
        atMs: e.created.getTime(),
      });
      if (count !== undefined && ++n >= count) break;
    }
  } finally {
    inv.io.signal?.removeEventListener("abort", stop);
    process.off("SIGINT", stop);
    it.stop();
    await member.close();
  }
}

/** Asks the admin for the value every interval and prints it when its revision moved. */
async function watchByPolling(
  inv: Invocation,
  group: string,
  key: string,
  intervalMs: number,
  count: number | undefined,
): Promise<void> {
  const configs = new AdminConfigs(inv.client("admin"), group);
  let last = -1;
  let printed = 0;
  const done = new AbortController();
  const io = { ...inv.io, signal: anySignal(inv.io.signal, done.signal) };
  await pollLoop(io, intervalMs, undefined, async () => {
    let v: WatchedValue;
    try {
      const c = await configs.get(key);
      v = {
        group,
        key,
        revision: c.revision,
        operation: "put",
        value: c.configs,
        sha256: c.sha256,
        atMs: c.updated_at ? Date.parse(c.updated_at) : Date.now(),
      };
    } catch (err) {
      if (!(err instanceof CliError) || err.exitCode !== ExitCode.NotFound) throw err;
      v = {
        group,
        key,
        revision: 0,
        operation: "delete",
        value: null,
        sha256: null,
        atMs: Date.now(),
      };
    }
    if (v.revision === last) return;
    last = v.revision;
    print(inv, v);
    if (count !== undefined && ++printed >= count) done.abort();
  });
}

function anySignal(a: AbortSignal | undefined, b: AbortSignal): AbortSignal {
  return a ? AbortSignal.any([a, b]) : b;
}
