import { randomBytes } from "node:crypto";
import { mkdir, readFile, realpath, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { assertGroupName, pathStemForKey, writeIntentPath } from "@konorkestra/sdk/internal";
import type { WriteIntentRecord } from "@konorkestra/sdk/internal";

/** Extensions a key's file may have, in the order the API looks for an existing one. */
const EXTENSIONS = [".json", ".yaml", ".yml"] as const;

/** A key's file in the group folder. */
export interface KeyFile {
  /** Absolute path (under the resolved root). */
  abs: string;
  /** Its bytes now, undefined when it does not exist. */
  bytes: Buffer | undefined;
}

/**
 * The config root as the API sees it: `<root>/<group>/<key path>.{json,yaml,yml}` (a dotted key
 * `a.b` lives in `a/b.json`, the loader's mapping), the intents under `<group>/.kon/intents/`.
 */
export class ConfigFolder {
  constructor(readonly root: string) {}

  groupDir(group: string): string {
    return join(this.root, assertGroupName(group));
  }

  /** The key's existing file (JSON or YAML), else where a new one goes: `<stem>.json`. */
  async keyFile(group: string, key: string): Promise<KeyFile> {
    const stem = join(this.groupDir(group), ...pathStemForKey(key).split("/"));
    for (const ext of EXTENSIONS) {
      const bytes = await readFile(stem + ext).catch(() => undefined);
      if (bytes !== undefined) return { abs: stem + ext, bytes };
    }
    return { abs: `${stem}.json`, bytes: undefined };
  }

  intentPath(group: string, key: string): string {
    return writeIntentPath(this.groupDir(group), key);
  }

  /** The group folder with its symlinks resolved; created when missing. */
  async realGroupDir(group: string): Promise<string> {
    const dir = this.groupDir(group);
    await mkdir(dir, { recursive: true });
    return realpath(dir);
  }

  /** Writes `bytes` to `abs` by temp file + rename, so no reader ever sees half a file. */
  async writeAtomic(abs: string, bytes: Uint8Array): Promise<void> {
    await mkdir(dirname(abs), { recursive: true });
    // A dot name: the loader ignores hidden files, so the temp file is never read as config.
    const tmp = join(dirname(abs), `.kon-tmp-${randomBytes(6).toString("hex")}`);
    try {
      await writeFile(tmp, bytes, { mode: 0o644 });
      await rename(tmp, abs);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  async remove(abs: string): Promise<void> {
    await rm(abs, { force: true });
  }
}

/** The bytes the API writes for a value: JSON, two-space indent, final newline. */
export function valueFileBytes(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`, "utf8");
}

export function intentBytes(intent: WriteIntentRecord): Buffer {
  return Buffer.from(`${JSON.stringify(intent, null, 2)}\n`, "utf8");
}
