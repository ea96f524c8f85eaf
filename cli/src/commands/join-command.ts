import { randomBytes } from "node:crypto";
import { mkdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Command } from "commander";

import { AdminGroups } from "../client/admin-groups";
import { MemberConnection, keyFileName } from "../client/member-connection";
import type { MemberConfig } from "../client/member-connection";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { groupArg } from "./group-command";
import { action } from "./invocation";
import type { Invocation } from "./invocation";

interface JoinFlags {
  group?: string;
  out?: string;
}

/** `kon join KEY`: the seed's `config_client AX324JR9`. */
export function registerJoinCommand(program: Command, io: CliIo): void {
  program
    .command("join")
    .description("join a group with its key, as its services do, and print (or save) every config")
    .argument("<join-key>", "the group's join key (or '-' to read it from KON_JOIN_KEY)")
    .option(
      "-g, --group <group>",
      "the key's group (KON_GROUP; found through the admin API when signed in)",
    )
    .option("-o, --out <dir>", "write each config to <dir>/<key>.json (atomically, 0600)")
    .action(action(io, joinGroup));
}

/** Reads a key as a person may type it, as the admin does: any case, dashes, O for 0, I/L for 1. */
export function joinKeyId(key: string): string | undefined {
  const canon = key.toUpperCase().replace(/[\s-]/g, "").replace(/O/g, "0").replace(/[IL]/g, "1");
  return /^[0-9A-HJKMNP-TV-Z]{36}$/.test(canon) ? canon.slice(0, 8) : undefined;
}

/** The join key of a command: the argument, or KON_JOIN_KEY for '-' (keeps it out of `ps`). */
export function joinKeyArg(inv: Invocation, given: string): string {
  const key = given === "-" ? inv.io.env.KON_JOIN_KEY : given;
  if (!key) {
    throw new CliError(ExitCode.Usage, "no join key: '-' reads KON_JOIN_KEY, which is not set");
  }
  return key;
}

/**
 * The group a key belongs to: --group or KON_GROUP; else, with an admin token, the group that
 * lists the key's id. A join key does not name its group (only the server's callout knows).
 */
export async function groupOfKey(inv: Invocation, key: string, given?: string): Promise<string> {
  const named = given ?? (inv.io.env.KON_GROUP || undefined);
  if (named) return groupArg(named);
  const keyId = joinKeyId(key);
  if (keyId && inv.tokens.origin !== "none") {
    const admin = new AdminGroups(inv.client("admin"));
    for (const g of await admin.list()) {
      const detail = await admin.show(g.name);
      if (detail.keys.some((k) => k.keyId === keyId)) return g.name;
    }
  }
  throw new CliError(ExitCode.Usage, "which group is this key for?", {
    hint: "pass --group GROUP (or set KON_GROUP); signed in, kon finds it by the key's id",
  });
}

/** Opens a member connection of `group` with `key` on this invocation's stack. */
export async function openMember(
  inv: Invocation,
  key: string,
  group: string,
): Promise<MemberConnection> {
  const servers = inv.stack.natsUrl.split(",").map((s) => s.trim());
  const progress = inv.out.progress(`joining group '${group}' at ${servers.join(",")}`);
  try {
    return await MemberConnection.open({
      servers,
      caFile: inv.stack.caFile,
      joinKey: key,
      group,
      prefix: inv.io.env.KON_PREFIX || undefined,
    });
  } finally {
    progress.done();
  }
}

async function joinGroup(inv: Invocation, given: string, flags: JoinFlags): Promise<void> {
  const key = joinKeyArg(inv, given);
  if (flags.out !== undefined) outDirArg(flags.out);
  const group = await groupOfKey(inv, key, flags.group);
  const member = await openMember(inv, key, group);
  const configs: MemberConfig[] = [];
  try {
    for (const k of await member.keys()) {
      const c = await member.read(k);
      if (c) configs.push(c);
    }
  } finally {
    await member.close();
  }
  const written = flags.out ? writeAll(resolve(flags.out), configs) : [];
  inv.out.result({
    json: {
      group,
      configs: Object.fromEntries(configs.map(({ key: k, ...rest }) => [k, rest])),
      ...(flags.out ? { written } : {}),
    },
    quiet: flags.out ? written : configs.map((c) => c.key),
    human: (o) => {
      if (configs.length === 0) o.line(`group '${group}' has no config yet`);
      if (flags.out) {
        o.line(`wrote ${written.length} config(s) of group '${group}' to ${resolve(flags.out)}`);
        return;
      }
      for (const c of configs) {
        o.line(
          o.colors.bold(`# ${c.key}`) +
            o.colors.dim(`  revision ${c.revision}  sha256 ${c.sha256.slice(0, 12)}`),
        );
        o.line(JSON.stringify(c.value, null, 2));
      }
    },
  });
}

/** `--out` names a directory, or nothing yet: say so before joining rather than after. */
function outDirArg(out: string): void {
  const st = statSync(resolve(out), { throwIfNoEntry: false });
  if (st && !st.isDirectory()) {
    throw new CliError(ExitCode.Usage, `--out ${resolve(out)} is not a directory`, {
      hint: "name a directory (it is created when missing)",
    });
  }
}

/**
 * Writes each value as `<dir>/<key>.json` by write + rename, so a reader never sees half a file.
 * The temporary file has a random name and is created exclusively (`wx`: never through a
 * symlink someone planted in a shared directory), 0600 as config values may hold secrets.
 */
function writeAll(dir: string, configs: readonly MemberConfig[]): string[] {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw writeFailure(dir, err);
  }
  return configs.map((c) => {
    const file = join(dir, keyFileName(c.key));
    const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      writeFileSync(tmp, JSON.stringify(c.value, null, 2) + "\n", { mode: 0o600, flag: "wx" });
      renameSync(tmp, file);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw writeFailure(file, err);
    }
    return file;
  });
}

function writeFailure(path: string, err: unknown): CliError {
  const e = err as NodeJS.ErrnoException;
  return new CliError(ExitCode.Failed, `cannot write ${path}: ${e.code ?? e.message}`, {
    hint: "check that --out is a directory you may write",
  });
}
