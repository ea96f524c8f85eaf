import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { KON_DIR } from "./group-settings";
import type { Consistency } from "./group-settings";

/**
 * Per-write metadata written next to a value (`<group>/.kon/intents/<key>.json`, in the same git
 * commit): it applies to the key's content whose sha256 it names, and to nothing else, so a later
 * hand edit of the file is published with the folder's defaults, not with a stale intent.
 */
export interface WriteIntent {
  sha256: string;
  consistency?: Consistency;
  /** Wall-clock instant (ms) at which nodes make the value current. */
  activateAtMs?: number;
  changeId?: string;
  author?: string;
  requestedAtMs?: number;
}

const intentSchema = z
  .object({
    sha256: z.string().regex(/^[0-9a-f]{64}$/, "lowercase hex SHA-256"),
    consistency: z.enum(["eventual", "strong"]).optional(),
    activate_at_ms: z.number().int().min(0).optional(),
    change_id: z.string().max(200).optional(),
    author: z.string().max(200).optional(),
    requested_at_ms: z.number().int().min(0).optional(),
  })
  .loose();

/** An intent that applies, none, or why the file could not be used. */
export type IntentReading =
  | { kind: "none" }
  | { kind: "intent"; intent: WriteIntent }
  | { kind: "other-content" }
  | { kind: "invalid"; problem: string };

/** Reads the intent of `key` and says whether it applies to content `sha256`. */
export async function readWriteIntent(
  groupDir: string,
  key: string,
  sha256: string,
): Promise<IntentReading> {
  const path = join(groupDir, KON_DIR, "intents", `${key}.json`);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return { kind: "none" };
    return { kind: "invalid", problem: `${path}: ${String(err)}` };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    return { kind: "invalid", problem: `${path}: not JSON: ${String(err)}` };
  }
  const r = intentSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    return {
      kind: "invalid",
      problem: `${path}: ${issue?.path.join(".") || "(root)"}: ${issue?.message ?? "invalid"}`,
    };
  }
  if (r.data.sha256 !== sha256) return { kind: "other-content" };
  return {
    kind: "intent",
    intent: {
      sha256: r.data.sha256,
      consistency: r.data.consistency,
      activateAtMs: r.data.activate_at_ms || undefined,
      changeId: r.data.change_id,
      author: r.data.author,
      requestedAtMs: r.data.requested_at_ms,
    },
  };
}
