import type { Command } from "commander";

import { AdminConfigs } from "../client/admin-configs";
import type { ConfigDiff, HistoryItem, JsonChange } from "../client/admin-configs";
import type { Output } from "../output/output";
import type { CliIo } from "../program";
import { configKeyArg } from "./config-input";
import { groupOf } from "./group-command";
import { action } from "./invocation";
import type { Invocation } from "./invocation";
import { countOption } from "./poll-loop";

const groupFlag = ["-g, --group <group>", "the group (KON_GROUP)"] as const;

/** `kon get`, `kon history`, `kon diff` through the admin's config API. */
export function registerConfigReadCommands(program: Command, io: CliIo): void {
  program
    .command("get")
    .description("a config key's value and where it came from (revision, commit, author)")
    .argument("<key>", "config key")
    .option(...groupFlag)
    .action(action(io, get));
  program
    .command("history")
    .description("a key's changes, newest first (bucket revisions, then the folder's git log)")
    .argument("<key>", "config key")
    .option(...groupFlag)
    .option("--limit <n>", "items per page (1-200)", countOption, 20)
    .option("--all", "follow the pages to the end")
    .action(action(io, history));
  program
    .command("diff")
    .description(
      "what changed in a key between two revisions (or commits): paths added, removed, changed",
    )
    .argument("<key>", "config key")
    .argument("<from>", "a revision, a commit hash, or current")
    .argument("[to]", "a revision, a commit hash, or current", "current")
    .option(...groupFlag)
    .action(action(io, diff));
}

function api(inv: Invocation, flag: string | undefined, key: string): [AdminConfigs, string] {
  configKeyArg(key);
  const group = groupOf(inv.io.env, flag);
  return [new AdminConfigs(inv.client("admin"), group), group];
}

async function get(inv: Invocation, key: string, f: { group?: string }): Promise<void> {
  const [configs, group] = api(inv, f.group, key);
  const v = await configs.get(key);
  inv.out.result({
    json: { group, ...v },
    quiet: [JSON.stringify(v.configs, null, 2)],
    human: (o) => {
      o.fields([
        ["key", `${group}/${v.module}`],
        ["revision", String(v.revision)],
        ["sha256", v.sha256],
        ["commit", v.commit || "-"],
        ["author", v.author || v.published_by || "-"],
        ["updated", v.updated_at ?? "-"],
        ["source", v.source_path || "-"],
        ...(v.consistency === "strong" ? [["consistency", "strong"] as const] : []),
        ...(v.activate_at ? [["activates", v.activate_at] as const] : []),
      ]);
      o.line();
      o.line(JSON.stringify(v.configs, null, 2));
    },
  });
}

export const HISTORY_HEAD = ["REVISION", "OP", "AT", "WHO", "COMMIT", "SHA256", "FROM"];

/** History rows (exported for golden tests). */
export function historyRows(items: readonly HistoryItem[]): string[][] {
  return items.map((i) => [
    i.revision === null ? "-" : String(i.revision),
    i.operation,
    i.at ?? "-",
    i.who || "-",
    i.commit ? i.commit.slice(0, 12) : "-",
    i.sha256 ? i.sha256.slice(0, 12) : "-",
    i.source,
  ]);
}

async function history(
  inv: Invocation,
  key: string,
  f: { group?: string; limit: number; all?: boolean },
): Promise<void> {
  const [configs, group] = api(inv, f.group, key);
  const items: HistoryItem[] = [];
  let next: string | null = null;
  do {
    const page = await configs.history(key, f.limit, next ?? undefined);
    items.push(...page.items);
    next = page.next;
  } while (f.all && next !== null);
  inv.out.result({
    json: { group, module: key, items, next },
    quiet: items.map((i) => (i.revision !== null ? String(i.revision) : i.commit)),
    human: (o) => {
      o.table(HISTORY_HEAD, historyRows(items));
      if (next !== null) o.note(`more with --all (or --limit)`);
    },
  });
}

const show = (v: unknown): string => JSON.stringify(v);

/** One line per change: `+ path value`, `- path old`, `~ path old → value` (exported for tests). */
export function diffLines(changes: readonly JsonChange[], o?: Output): string[] {
  const c = o?.colors;
  return changes.map((ch) => {
    const path = ch.path || "(whole value)";
    if (ch.op === "added") return (c?.green ?? String)(`+ ${path}: ${show(ch.value)}`);
    if (ch.op === "removed") return (c?.red ?? String)(`- ${path}: ${show(ch.old)}`);
    return (c?.yellow ?? String)(`~ ${path}: ${show(ch.old)} → ${show(ch.value)}`);
  });
}

async function diff(
  inv: Invocation,
  key: string,
  from: string,
  to: string,
  f: { group?: string },
): Promise<void> {
  const [configs, group] = api(inv, f.group, key);
  const d: ConfigDiff = await configs.diff(key, from, to);
  inv.out.result({
    json: { group, ...d },
    quiet: d.changes.map((c) => c.path),
    human: (o) => {
      if (d.changes.length === 0) o.line(`${group}/${key}: no difference from ${from} to ${to}`);
      for (const l of diffLines(d.changes, o)) o.line(l);
    },
  });
}
