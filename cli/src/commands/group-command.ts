import type { Command } from "commander";
import { isGroupName } from "@konorkestra/sdk/internal";

import { AdminGroups } from "../client/admin-groups";
import type { JoinKeyInfo } from "../client/admin-groups";
import { CliError, ExitCode } from "../exit-codes";
import type { CliIo } from "../program";
import { parseDuration } from "./duration";
import { action } from "./invocation";
import type { Invocation } from "./invocation";
import { ask, canPrompt } from "./prompt";

/** Checks a group name before any request: a typo is a usage error, not a 400. */
export function groupArg(name: string): string {
  if (!isGroupName(name)) {
    throw new CliError(ExitCode.Usage, `invalid group name ${JSON.stringify(name)}`, {
      hint: "use 1-63 of [a-z0-9-], starting with a letter or digit",
    });
  }
  return name;
}

/** The group of a config command: --group, else KON_GROUP (as the SDK reads it). */
export function groupOf(env: NodeJS.ProcessEnv, flag: string | undefined): string {
  const g = flag ?? (env.KON_GROUP || undefined);
  if (g === undefined) {
    throw new CliError(ExitCode.Usage, "which group?", {
      hint: "pass --group GROUP or set KON_GROUP",
    });
  }
  return groupArg(g);
}

/** `kon group create|list|show|rotate-key|revoke-key|delete` against the admin API. */
export function registerGroupCommands(program: Command, io: CliIo): void {
  const group = program.command("group").description("groups and their join keys");
  group
    .command("create")
    .description("create a group; prints its first join key (shown once)")
    .argument("<group>", "group name, 1-63 of [a-z0-9-]")
    .action(action(io, create));
  group.command("list").alias("ls").description("list groups").action(action(io, list));
  group
    .command("show")
    .description("a group and its join keys (ids only)")
    .argument("<group>", "group name")
    .action(action(io, show));
  group
    .command("rotate-key")
    .description("issue a new join key (shown once); older keys stay valid for the grace period")
    .argument("<group>", "group name")
    .option("--grace <duration>", "how long older keys keep working, e.g. 10m, 24h, 0")
    .action(action(io, rotateKey));
  group
    .command("revoke-key")
    .description("revoke one join key now; its connections are closed")
    .argument("<group>", "group name")
    .argument("<key-id>", "key id (the first 8 characters of the key)")
    .action(action(io, revokeKey));
  group
    .command("delete")
    .alias("rm")
    .description("delete a group, its join keys and its config bucket")
    .argument("<group>", "group name")
    .option("-y, --yes", "do not ask for confirmation")
    .action(action(io, remove));
}

function groups(inv: Invocation): AdminGroups {
  return new AdminGroups(inv.client("admin"));
}

async function create(inv: Invocation, name: string): Promise<void> {
  const made = await groups(inv).create(groupArg(name));
  inv.out.result({
    json: made,
    quiet: [made.joinKey],
    human: (o) => {
      o.line(`created group '${made.name}'`);
      o.line(`join key ${made.keyId} (shown once, keep it secret):`);
      o.line(`  ${made.joinKey}`);
    },
  });
}

async function list(inv: Invocation): Promise<void> {
  const all = await groups(inv).list();
  inv.out.result({
    json: { groups: all },
    quiet: all.map((g) => g.name),
    human: (o) =>
      o.table(
        ["NAME", "CREATED", "CREATED BY"],
        all.map((g) => [g.name, g.createdAt, g.createdBy ?? "-"]),
      ),
  });
}

function keyState(k: JoinKeyInfo, nowMs: number): string {
  if (k.revokedAt) return "revoked";
  if (k.expiresAt) return Date.parse(k.expiresAt) > nowMs ? "grace" : "expired";
  return "current";
}

async function show(inv: Invocation, name: string): Promise<void> {
  const g = await groups(inv).show(groupArg(name));
  const now = Date.now();
  inv.out.result({
    json: g,
    quiet: g.keys.filter((k) => keyState(k, now) === "current").map((k) => k.keyId),
    human: (o) => {
      o.fields([
        ["group", g.name],
        ["created", g.createdAt],
        ["created by", g.createdBy ?? "-"],
      ]);
      o.line();
      o.table(
        ["KEY ID", "STATE", "CREATED", "EXPIRES", "REVOKED"],
        g.keys.map((k) => [
          k.keyId,
          keyState(k, now),
          k.createdAt,
          k.expiresAt ?? "-",
          k.revokedAt ?? "-",
        ]),
      );
    },
  });
}

async function rotateKey(inv: Invocation, name: string, flags: { grace?: string }): Promise<void> {
  const graceMs = flags.grace === undefined ? undefined : parseDuration(flags.grace, "--grace");
  const k = await groups(inv).rotateKey(groupArg(name), graceMs);
  inv.out.result({
    json: { group: name, ...k },
    quiet: [k.joinKey],
    human: (o) => {
      o.line(`new join key ${k.keyId} for group '${name}' (shown once, keep it secret):`);
      o.line(`  ${k.joinKey}`);
      o.line(`older keys stay valid until ${k.oldKeysValidUntil}`);
    },
  });
}

async function revokeKey(inv: Invocation, name: string, keyId: string): Promise<void> {
  await groups(inv).revokeKey(groupArg(name), keyId);
  inv.out.result({
    json: { group: name, keyId, revoked: true },
    human: (o) => o.line(`revoked join key ${keyId} of group '${name}'`),
  });
}

async function remove(inv: Invocation, name: string, flags: { yes?: boolean }): Promise<void> {
  groupArg(name);
  if (!flags.yes) {
    if (!canPrompt(inv.io)) {
      throw new CliError(ExitCode.Usage, `deleting group '${name}' needs confirmation`, {
        hint: "pass --yes",
      });
    }
    const answer = await ask(inv.io, `delete group '${name}' and its config? type its name: `);
    if (answer.trim() !== name)
      throw new CliError(ExitCode.Failed, "not confirmed; nothing deleted");
  }
  await groups(inv).delete(name);
  inv.out.result({
    json: { group: name, deleted: true },
    human: (o) => o.line(`deleted group '${name}'`),
  });
}
