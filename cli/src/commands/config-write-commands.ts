import { InvalidArgumentError } from "commander";
import type { Command } from "commander";

import { AdminConfigs } from "../client/admin-configs";
import type { WriteOptions, WriteResult } from "../client/admin-configs";
import { HttpFailure } from "../client/http-client";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { configKeyArg, readConfigInput } from "./config-input";
import { parseDuration } from "./duration";
import { groupOf } from "./group-command";
import { action } from "./invocation";
import type { Invocation } from "./invocation";

interface WriteFlags {
  group?: string;
  expectRevision?: number;
  strong?: boolean;
  at?: string;
}
interface PutFlags extends WriteFlags {
  create?: boolean;
  format?: string;
}

function revisionOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError("use a revision number (0: the key must not exist yet)");
  }
  return n;
}

const MAX_DATE_MS = 8.64e15;

/** `--at`: an RFC 3339 time, or `+10m` from now. */
export function activationTime(value: string): string {
  const ms = value.startsWith("+")
    ? Date.now() + parseDuration(value.slice(1), "--at")
    : /\d{4}-\d\d-\d\dT.*(Z|[+-]\d\d:\d\d)$/i.test(value)
      ? Date.parse(value)
      : NaN;
  // Date's range ends at ±8.64e15 ms; beyond it toISOString throws ("Invalid time value").
  if (Number.isNaN(ms) || Math.abs(ms) > MAX_DATE_MS) {
    throw new InvalidArgumentError(
      "use an RFC 3339 time with a zone (2030-01-01T10:00:00Z) or +10m",
    );
  }
  return new Date(ms).toISOString();
}

function writeOptions(cmd: Command, at: "optional" | "required"): Command {
  cmd
    .option("-g, --group <group>", "the group (KON_GROUP)")
    .option(
      "--expect-revision <n>",
      "refuse (exit 4) unless the key is at this revision",
      revisionOption,
    )
    .option("--strong", "commit only when every live node of the group accepts the value");
  if (at === "required")
    cmd.requiredOption("--at <time>", "when nodes switch: RFC 3339, or +10m", activationTime);
  else
    cmd.option(
      "--at <time>",
      "switch at this instant on every node: RFC 3339, or +10m",
      activationTime,
    );
  return cmd;
}

/** `kon put`, `kon activate`, `kon rollback`: writes through the admin's config API. */
export function registerConfigWriteCommands(program: Command, io: CliIo): void {
  writeOptions(
    program
      .command("put")
      .description("set a config key from a file or stdin (JSON or YAML, checked before sending)")
      .argument("<key>", "config key, e.g. service1 or service1.db")
      .argument("[file]", "a .json/.yaml file, or - for stdin")
      .option("--create", "only create: leave the key alone if it exists")
      .option("--format <format>", "json or yaml (stdin, or a file without a known extension)"),
    "optional",
  ).action(action(io, put));
  writeOptions(
    program
      .command("activate")
      .description("put a value that every node switches to at one instant (put --at)")
      .argument("<key>", "config key")
      .argument("[file]", "a .json/.yaml file, or - for stdin")
      .option("--format <format>", "json or yaml"),
    "required",
  ).action(action(io, put));
  writeOptions(
    program
      .command("rollback")
      .description("write an earlier revision's (or commit's) value as a new revision")
      .argument("<key>", "config key")
      .argument("<revision>", "a revision (kon history) or a full git commit hash"),
    "optional",
  ).action(action(io, rollback));
}

function options(f: WriteFlags): WriteOptions {
  return {
    ...(f.expectRevision !== undefined ? { expected_revision: f.expectRevision } : {}),
    ...(f.strong ? { consistency: "strong" as const } : {}),
    ...(f.at !== undefined ? { activate_at: f.at } : {}),
  };
}

function waiting(group: string, key: string, f: WriteFlags): string {
  const how = f.strong ? "every live node to accept it" : "the loader to publish it";
  return `writing ${group}/${key}; waiting for ${how}`;
}

async function put(
  inv: Invocation,
  key: string,
  file: string | undefined,
  f: PutFlags,
): Promise<void> {
  configKeyArg(key);
  const group = groupOf(inv.io.env, f.group);
  const input = await readConfigInput(inv.io, file, f.format);
  const api = new AdminConfigs(inv.client("admin"), group);
  const progress = inv.out.progress(waiting(group, key, f));
  let result: WriteResult;
  try {
    result = await upsert(api, key, input.value, f);
  } finally {
    progress.done();
  }
  report(inv, group, result, f.at);
}

/**
 * Creates or updates, as `etcdctl put` does: `_update`, and `_create` when the update found no
 * such key. `--create` (or `--expect-revision 0`) only creates; with `--expect-revision 0` an
 * existing key is a conflict (exit 4).
 */
async function upsert(
  api: AdminConfigs,
  key: string,
  value: unknown,
  f: PutFlags,
): Promise<WriteResult> {
  const o = options(f);
  if (f.create || f.expectRevision === 0) {
    const { expected_revision: _, ...rest } = o;
    const r = await api.write("create", key, value, rest);
    if (f.expectRevision === 0 && r.results.some((x) => x.status === "skipped")) {
      throw new CliError(ExitCode.Refused, `${key} exists already (--expect-revision 0)`);
    }
    return r;
  }
  try {
    return await api.write("update", key, value, o);
  } catch (err) {
    const cause = err instanceof CliError ? err.cause : undefined;
    const missing =
      cause instanceof HttpFailure &&
      cause.status === 404 &&
      (cause.details as { module?: unknown }).module === key;
    if (!missing || o.expected_revision !== undefined) throw err;
    return api.write("create", key, value, o);
  }
}

async function rollback(inv: Invocation, key: string, ref: string, f: WriteFlags): Promise<void> {
  configKeyArg(key);
  const group = groupOf(inv.io.env, f.group);
  if (!/^(\d+|[0-9a-f]{40})$/.test(ref)) {
    throw new CliError(ExitCode.Usage, `not a revision or commit: ${JSON.stringify(ref)}`, {
      hint: "use a revision number (kon history) or a full 40-hex commit hash",
    });
  }
  const api = new AdminConfigs(inv.client("admin"), group);
  const progress = inv.out.progress(waiting(group, key, f));
  let result: WriteResult;
  try {
    result = await api.rollback(key, ref, options(f));
  } finally {
    progress.done();
  }
  report(inv, group, result, f.at);
}

/** Prints what became of each key; a write the loader has not published yet is said so. */
function report(inv: Invocation, group: string, w: WriteResult, at: string | undefined): void {
  for (const r of w.results.filter((x) => x.status === "pending")) {
    inv.out.warn(
      `${group}/${r.module}: committed (${w.commit ?? "-"}) but not published yet; see 'kon get ${r.module} -g ${group}'`,
    );
  }
  inv.out.result({
    json: { group, ...w },
    quiet: w.results.map((r) => String(r.revision ?? "")),
    human: (o) => {
      for (const r of w.results) {
        const rev = r.revision !== undefined ? ` revision ${r.revision}` : "";
        const commit = r.commit ? ` (commit ${r.commit.slice(0, 12)})` : "";
        const when =
          at && (r.status === "created" || r.status === "updated") ? `, active at ${at}` : "";
        o.line(`${group}/${r.module}: ${r.status}${rev}${commit}${when}`);
      }
    },
  });
}
