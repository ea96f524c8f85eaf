import { readFile, readdir, stat } from "node:fs/promises";
import { extname, join, relative, sep } from "node:path";
import { watch } from "chokidar";
import type { FSWatcher } from "chokidar";
import { parse as parseYaml } from "yaml";
import { ConfigEntry } from "@konorkestra/proto";
import { KonError, KonErrorCode } from "../errors";
import type { Logger } from "../logger";
import { assertConfigKey } from "../wire/names";
import type { ChangeBatch, RawChange } from "./raw-change";
import { sha256Hex } from "./stable-hash";

/** Extensions read, in order of preference when one key has several files. */
const EXTENSIONS = [".json", ".yaml", ".yml"];

interface FileValue {
  readonly payload: Uint8Array;
  readonly sha256: string;
  readonly sourcePath: string;
  readonly format: ConfigEntry.SourceFormat;
  readonly mtimeMs: number;
}

/**
 * `KON_CONFIG_SOURCE=file:<dir>`: config from `<dir>/<group>/<key path>.{json,yaml,yml}` with no
 * NATS at all (dots in a key are folders: `service1.db` ↔ `service1/db.yaml`, as in the loader).
 * Any file event (debounced) rescans the folder and emits the keys whose content changed as one
 * change set, so a `git pull` lands whole; revisions are a local counter. A file that does not
 * parse is reported and skipped: its key keeps its last good value.
 */
export class FileConfigSource {
  private revision = 0;
  private readonly shas = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly root: string,
    private readonly group: string,
    private readonly emit: (batch: ChangeBatch) => void,
    private readonly logger: Logger,
    private readonly debounceMs = 50,
  ) {}

  /** Emits the initial state, then watches. */
  async start(): Promise<void> {
    const st = await stat(this.root).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new KonError(
        KonErrorCode.ConfigUnavailable,
        `config folder ${this.root} does not exist (KON_CONFIG_SOURCE=file:<dir> reads <dir>/${this.group}/)`,
      );
    }
    await this.scan(true);
    const watcher = watch(this.root, { ignoreInitial: true, atomic: true });
    this.watcher = watcher;
    watcher.on("all", () => this.schedule());
    watcher.on("error", (err) => this.logger.warn(`watching ${this.root}: ${String(err)}`));
    await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
  }

  /** Rescans now (what `ensureFresh` does for a file source); resolves once emitted. */
  async rescan(): Promise<void> {
    await this.enqueueScan();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.watcher?.close();
    await this.scanning;
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.enqueueScan(), this.debounceMs);
  }

  private enqueueScan(): Promise<void> {
    this.scanning = this.scanning.then(() => this.scan(false));
    return this.scanning;
  }

  private async scan(initial: boolean): Promise<void> {
    if (this.stopped && !initial) return;
    const files = await this.keyFiles();
    const changes: Omit<RawChange, "changeSetId" | "changeSetSize">[] = [];
    for (const [key, path] of files) {
      const value = await this.read(path);
      if (!value || this.shas.get(key) === value.sha256) continue;
      this.shas.set(key, value.sha256);
      changes.push({
        key,
        revision: ++this.revision,
        op: "put",
        origin: "file",
        entry: ConfigEntry.create({
          key,
          payload: value.payload,
          contentType: "application/json",
          sourceFormat: value.format,
          sha256: value.sha256,
          sourcePath: value.sourcePath,
          updatedAtMs: Math.round(value.mtimeMs),
          publishedBy: "file",
        }),
      });
    }
    for (const key of [...this.shas.keys()]) {
      if (files.has(key)) continue;
      this.shas.delete(key);
      changes.push({ key, revision: ++this.revision, op: "delete", origin: "file" });
    }
    if (!initial && changes.length === 0) return;
    const id = initial ? "initial" : `file-${this.revision}`;
    const withSet = changes.map((c) => ({ ...c, changeSetId: id, changeSetSize: changes.length }));
    this.emit({
      kind: initial ? "load" : "set",
      changes: withSet,
      changeSetId: id,
      complete: true,
    });
  }

  /** Config key → file, for every config file under the root (first extension wins). */
  private async keyFiles(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const names = await readdir(this.root, { recursive: true }).catch(() => [] as string[]);
    for (const rel of names.sort()) {
      const ext = extname(rel);
      if (!EXTENSIONS.includes(ext)) continue;
      const key = rel.slice(0, -ext.length).split(sep).join(".");
      try {
        assertConfigKey(key);
      } catch (err) {
        this.logger.warn(`ignoring ${join(this.root, rel)}: ${String(err)}`);
        continue;
      }
      const other = out.get(key);
      if (other && EXTENSIONS.indexOf(extname(other)) <= EXTENSIONS.indexOf(ext)) {
        this.logger.warn(`config key ${key}: using ${other}, ignoring ${join(this.root, rel)}`);
        continue;
      }
      out.set(key, join(this.root, rel));
    }
    return out;
  }

  private async read(path: string): Promise<FileValue | undefined> {
    try {
      const [text, st] = await Promise.all([readFile(path, "utf8"), stat(path)]);
      const yaml = extname(path) !== ".json";
      const value: unknown = yaml ? parseYaml(text) : JSON.parse(text);
      const payload = Buffer.from(JSON.stringify(value ?? null));
      return {
        payload,
        sha256: sha256Hex(payload),
        sourcePath: [this.group, ...relative(this.root, path).split(sep)].join("/"),
        format: yaml ? ConfigEntry.SourceFormat.YAML : ConfigEntry.SourceFormat.JSON,
        mtimeMs: st.mtimeMs,
      };
    } catch (err) {
      // The key keeps its last good value; a later save retries.
      this.logger.warn(`config file ${path} not applied: ${String(err)}`);
      return undefined;
    }
  }
}
