import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { ConfigEntry, ConfigSnapshot, decodeMessage, encodeMessage } from "@konorkestra/proto";
import type { Logger } from "../logger";
import { assertPrivateFile, preparePrivateDir } from "./private-dir";
import type { ChangeBatch, RawChange } from "./raw-change";
import { originPath, serversFingerprint, snapshotPath } from "./snapshot-origin";
import type { SnapshotOriginNote } from "./snapshot-origin";

/** One key of a snapshot: the entry this process last applied and its revision. */
export interface SnapshotEntry {
  readonly entry: ConfigEntry;
  readonly revision: number;
}

/** A snapshot as read from disk. */
export interface LoadedSnapshot {
  readonly savedAt: Date;
  readonly entries: ReadonlyMap<string, SnapshotEntry>;
}

/**
 * The last-known-good values of a group on disk, `<dir>/<prefix>-<group>.pb` (a ConfigSnapshot),
 * in a private directory (0700, files 0600; see {@link preparePrivateDir}), with a note of the
 * servers the values came from (`.pb.origin`, see snapshot-origin). Writes are atomic (temp file
 * + rename) and coalesced: at most one in flight, the newest state written after it. Several
 * services of a group on one host may share the file, so a write merges this process's keys
 * into what is on disk instead of replacing the others'.
 */
export class ConfigSnapshotStore {
  readonly path: string;
  private readonly own = new Map<string, SnapshotEntry>();
  private readonly origin: string;
  private writing: Promise<void> | undefined;
  private dirty = false;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly dir: string,
    prefix: string,
    private readonly group: string,
    private readonly logger: Logger,
    servers: readonly string[],
  ) {
    this.path = snapshotPath(dir, prefix, group);
    this.origin = serversFingerprint(servers);
  }

  /**
   * Creates the private directory, or checks an existing one.
   * @throws {@link KonError} `SNAPSHOT_DIR_UNSAFE`
   */
  async prepare(): Promise<void> {
    this.ready ??= preparePrivateDir(this.dir).catch((err: unknown) => {
      this.ready = undefined;
      throw err;
    });
    await this.ready;
  }

  /**
   * The snapshot on disk, or undefined when there is none or it cannot be decoded (logged).
   * @throws {@link KonError} `SNAPSHOT_DIR_UNSAFE` when the directory or file could have been
   *   written by someone else
   */
  async load(): Promise<LoadedSnapshot | undefined> {
    await this.prepare();
    let bytes: Buffer;
    try {
      await assertPrivateFile(this.path);
      bytes = await readFile(this.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return undefined;
      if (code === "SNAPSHOT_DIR_UNSAFE") throw err;
      this.logger.warn(`cannot read config snapshot ${this.path}: ${String(err)}`);
      return undefined;
    }
    try {
      const snap = decodeMessage(ConfigSnapshot, bytes);
      const entries = new Map<string, SnapshotEntry>();
      for (const [key, raw] of Object.entries(snap.entries)) {
        entries.set(key, {
          entry: ConfigEntry.create(raw),
          revision: Number(snap.revisions[key] ?? 0),
        });
      }
      return { savedAt: new Date(Number(snap.savedAtMs)), entries };
    } catch (err) {
      this.logger.warn(`ignoring unreadable config snapshot ${this.path}: ${String(err)}`);
      return undefined;
    }
  }

  /** Records the value this process now applies for a key, and schedules a write. */
  record(key: string, value: SnapshotEntry): void {
    this.own.set(key, value);
    this.dirty = true;
    this.writing ??= this.writeLoop().finally(() => {
      this.writing = undefined;
    });
  }

  /** Resolves once every recorded change is on disk. */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async writeLoop(): Promise<void> {
    while (this.dirty) {
      this.dirty = false;
      try {
        await this.writeOnce();
      } catch (err) {
        this.logger.warn(`cannot write config snapshot ${this.path}: ${String(err)}`);
      }
    }
  }

  private async writeOnce(): Promise<void> {
    const merged = new Map((await this.load())?.entries ?? []);
    for (const [key, value] of this.own) merged.set(key, value);
    const entries: Record<string, ConfigEntry> = {};
    const revisions: Record<string, number> = {};
    for (const [key, { entry, revision }] of merged) {
      entries[key] = entry;
      revisions[key] = revision;
    }
    const bytes = encodeMessage(ConfigSnapshot, {
      group: this.group,
      entries,
      revisions,
      savedAtMs: Date.now(),
    });
    await writePrivately(this.path, bytes);
    const note: SnapshotOriginNote = { servers: this.origin, savedAtMs: Date.now() };
    await writePrivately(originPath(this.path), Buffer.from(JSON.stringify(note)));
  }
}

/** Temp file (0600, created exclusively) + rename, so a reader never sees half a file. */
async function writePrivately(path: string, bytes: Uint8Array): Promise<void> {
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(tmp, bytes, { mode: 0o600, flag: "wx" });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The snapshot as a (partial) load batch, marked as coming from the snapshot. */
export function snapshotToBatch(snap: LoadedSnapshot): ChangeBatch {
  const changes: RawChange[] = [...snap.entries].map(([key, { entry, revision }]) => ({
    key,
    revision,
    op: "put",
    entry,
    changeSetId: entry.changeSetId,
    changeSetSize: entry.changeSetSize || 1,
    origin: "snapshot",
  }));
  return { kind: "load", changes, changeSetId: "snapshot" };
}
