import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { z } from "zod";

/** Folder of a group's Konorkestra metadata; never read as config (hidden names are skipped). */
export const KON_DIR = ".kon";

/** How a write to a key becomes current when nothing more specific says so. */
export type Consistency = "eventual" | "strong";

/**
 * `<group folder>/.kon/settings.yaml` (docs/wire-contract.md §13): the loader uses `consistency`
 * and `prepareTimeoutMs`, the admin's compaction `history`, `maxBytes` and `tombstoneGraceMs`.
 */
export interface GroupSettings {
  /** Default of every write in the folder. @default "eventual" */
  consistency: Consistency;
  /** How long a STRONG write waits for every vote. @default 3000 */
  prepareTimeoutMs: number;
  /** Revisions kept per key: the bucket stream's `max_msgs_per_subject` (1-64). */
  history?: number;
  /** Byte limit of the bucket's stream; -1 = none. */
  maxBytes?: number;
  /** Age after which compaction purges a delete tombstone. */
  tombstoneGraceMs?: number;
}

export const DEFAULT_PREPARE_TIMEOUT_MS = 3000;

export const DEFAULT_GROUP_SETTINGS: GroupSettings = Object.freeze({
  consistency: "eventual",
  prepareTimeoutMs: DEFAULT_PREPARE_TIMEOUT_MS,
});

const fileSchema = z
  .object({
    consistency: z.enum(["eventual", "strong"]).optional(),
    prepare_timeout_ms: z.number().int().min(100).max(60_000).optional(),
    history: z.number().int().min(1).max(64).optional(),
    max_bytes: z.number().int().min(-1).optional(),
    tombstone_grace_ms: z.number().int().min(0).optional(),
  })
  .loose();

/** The settings, or the defaults and why the file could not be used. */
export interface SettingsReading {
  settings: GroupSettings;
  /** Set when the file exists but is not valid (the defaults apply). */
  problem?: string;
}

/** Where a group folder's settings live. */
export function groupSettingsPath(groupDir: string): string {
  return join(groupDir, KON_DIR, "settings.yaml");
}

/**
 * Reads `<groupDir>/.kon/settings.yaml`. A missing file means the defaults; a bad one too, with
 * a problem naming the field, so that a typo never turns STRONG writes into EVENTUAL ones
 * silently (the caller logs it).
 */
export async function readGroupSettings(groupDir: string): Promise<SettingsReading> {
  const path = groupSettingsPath(groupDir);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT")
      return { settings: DEFAULT_GROUP_SETTINGS };
    return { settings: DEFAULT_GROUP_SETTINGS, problem: `${path}: ${String(err)}` };
  }
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (err) {
    return { settings: DEFAULT_GROUP_SETTINGS, problem: `${path}: not YAML: ${String(err)}` };
  }
  const r = fileSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.join(".") || "(root)";
    return {
      settings: DEFAULT_GROUP_SETTINGS,
      problem: `${path}: ${where}: ${issue?.message ?? "invalid"}; using the defaults`,
    };
  }
  const f = r.data;
  return {
    settings: {
      consistency: f.consistency ?? DEFAULT_GROUP_SETTINGS.consistency,
      prepareTimeoutMs: f.prepare_timeout_ms ?? DEFAULT_PREPARE_TIMEOUT_MS,
      history: f.history,
      maxBytes: f.max_bytes,
      tombstoneGraceMs: f.tombstone_grace_ms,
    },
  };
}
