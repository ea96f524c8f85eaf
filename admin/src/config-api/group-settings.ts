import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "yaml";
import { z } from "zod";

/** Most revisions JetStream KV keeps per key. */
export const MAX_KV_HISTORY = 64;

/**
 * The part of `<group>/.kon/settings.yaml` the admin applies (the loader reads `consistency` and
 * `prepare_timeout_ms` from the same file). Unknown fields are left to their readers.
 */
export interface GroupSettings {
  /** Revisions kept per key (the stream's `max_msgs_per_subject`), 1-64. */
  history?: number;
  /** Byte limit of the group's bucket (`max_bytes`); -1 = none. */
  max_bytes?: number;
  /** How long a delete tombstone stays before compaction purges it. */
  tombstone_grace_ms?: number;
}

const settingsSchema = z.looseObject({
  history: z.number().int().min(1).max(MAX_KV_HISTORY).optional(),
  max_bytes: z.number().int().min(-1).optional(),
  tombstone_grace_ms: z
    .number()
    .int()
    .min(0)
    .max(365 * 86_400_000)
    .optional(),
});

/** Settings file of a group folder. */
export function settingsPath(groupDir: string): string {
  return join(groupDir, ".kon", "settings.yaml");
}

/**
 * Reads the group's settings: {} when the file does not exist; throws an Error naming the file and
 * the field when it is not YAML or a value is out of range.
 */
export async function readGroupSettings(groupDir: string): Promise<GroupSettings> {
  const file = settingsPath(groupDir);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return {};
  }
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (err) {
    throw new Error(`${file}: not YAML: ${(err as Error).message}`);
  }
  const r = settingsSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new Error(`${file}: ${i.path.join(".") || "(top)"}: ${i.message}`);
  }
  const { history, max_bytes, tombstone_grace_ms } = r.data;
  return { history, max_bytes, tombstone_grace_ms };
}
