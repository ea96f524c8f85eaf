import { join } from "node:path";
import { KON_DIR } from "./group-settings";
import type { Consistency } from "./group-settings";

/**
 * A write intent as stored (docs/wire-contract.md §13): per-write metadata committed next to a
 * value, which applies to the key's content whose canonical `sha256` it names and nothing else.
 * The admin's config API writes it; the loader applies it when it publishes that content.
 */
export interface WriteIntentRecord {
  sha256: string;
  consistency?: Consistency;
  /** Wall-clock instant (ms) at which nodes make the value current. */
  activate_at_ms?: number;
  change_id?: string;
  /** "Name <email>" of who asked. */
  author?: string;
  requested_at_ms?: number;
}

/** `<groupDir>/.kon/intents/<key>.json`. */
export function writeIntentPath(groupDir: string, key: string): string {
  return join(groupDir, KON_DIR, "intents", `${key}.json`);
}
