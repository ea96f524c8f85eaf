import { stat } from "node:fs/promises";
import { join } from "node:path";
import { watch } from "chokidar";
import type { FSWatcher } from "chokidar";
import { ConfigEntry } from "@konorkestra/proto";
import { KonError, KonErrorCode } from "../errors";
import type { Logger } from "../logger";
import { DEFAULT_MAX_VALUE_BYTES } from "../config-files/config-file-parser";
import { readGroupFiles } from "../config-files/group-files";
import type { FileReading } from "../config-files/group-files";
import { scanGroup } from "../config-files/tree-scanner";
import { configNotFound } from "./config-source";
import type { ConfigSink, ConfigSource } from "./config-source";
import type { RawChange } from "./raw-change";

type Change = Omit<RawChange, "changeSetId" | "changeSetSize">;

/**
 * `KON_CONFIG_SOURCE=file:<dir>`: config from `<dir>/<group>/` with no NATS at all, read by the
 * config-loader's own rules (`@konorkestra/sdk/internal` config-file rules), so a folder means the
 * same here as once published: `service1/db.yaml` is key `service1.db`, hidden and backup files
 * are ignored, values are canonical JSON, and a file the loader would refuse (bad name, two files
 * for one key, over 1 MiB, not UTF-8, invalid JSON/YAML, duplicate keys) is refused here too:
 * logged once, its key keeps its last good value.
 *
 * Any file event (debounced) rescans the folder and emits the keys whose content changed as one
 * change set, so a `git pull` lands whole; revisions are a local counter.
 */
export class FileConfigSource implements ConfigSource {
  private revision = 0;
  /** Per key: sha256 of the value delivered, and the revision it was delivered with. */
  private readonly delivered = new Map<string, { sha256: string; revision: number }>();
  /** Per key: revision of its last change (a put or a delete). */
  private readonly lastChange = new Map<string, number>();
  /** Per file: fingerprint of the refusal logged last, to log each bad content once. */
  private readonly refusalsLogged = new Map<string, string>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly root: string,
    private readonly group: string,
    private readonly sink: ConfigSink,
    private readonly logger: Logger,
    private readonly maxValueBytes = DEFAULT_MAX_VALUE_BYTES,
    private readonly debounceMs = 50,
  ) {}

  private get groupDir(): string {
    return join(this.root, this.group);
  }

  /** Applies the initial state, then watches. */
  async start(): Promise<void> {
    const st = await stat(this.groupDir).catch(() => undefined);
    if (!st?.isDirectory()) {
      throw new KonError(
        KonErrorCode.ConfigUnavailable,
        `config folder ${this.groupDir} does not exist (KON_CONFIG_SOURCE=file:<dir> reads <dir>/${this.group}/)`,
      );
    }
    await this.scan(true);
    const watcher = watch(this.groupDir, { ignoreInitial: true, atomic: true });
    this.watcher = watcher;
    watcher.on("all", () => this.schedule());
    watcher.on("error", (err) => this.logger.warn(`watching ${this.groupDir}: ${String(err)}`));
    await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
    await this.sink.idle();
  }

  /** Rescans now; resolves once what changed is applied. */
  async freshen(key: string): Promise<number> {
    await this.enqueueScan();
    await this.sink.idle();
    return this.lastChange.get(key) ?? 0;
  }

  missing(key: string): KonError {
    return configNotFound(key, "the config folder");
  }

  /** Nothing to keep: the folder is the last known good. */
  keep(): void {}

  /** No NATS to report to; the refusal is in the log already. */
  refuse(): void {}

  /** No registry to publish schemas to. */
  opened(): void {}

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
    this.scanning = this.scanning
      .then(() => this.scan(false))
      .catch((err: unknown) => this.logger.warn(`reading ${this.groupDir}: ${String(err)}`));
    return this.scanning;
  }

  private async scan(initial: boolean): Promise<void> {
    if (this.stopped && !initial) return;
    const scan = await scanGroup(this.root, this.group);
    for (const p of scan?.problems ?? []) this.logger.warn(`config folder: ${p}`);
    const readings = await readGroupFiles(scan?.files ?? [], this.maxValueBytes);
    const present = new Set<string>();
    const changes: Change[] = [];
    for (const r of readings) {
      if (r.key) present.add(r.key);
      if (r.kind === "parsed") {
        const change = this.put(r);
        if (change) changes.push(change);
      }
    }
    this.logRefusals(readings);
    // Keys whose file is gone; a folder not listed completely deletes nothing.
    if (scan?.complete ?? true) {
      for (const key of [...this.delivered.keys()]) {
        if (present.has(key)) continue;
        this.delivered.delete(key);
        changes.push(this.changed(key, { op: "delete" }));
      }
    }
    if (!initial && changes.length === 0) return;
    const id = initial ? "initial" : `file-${this.revision}`;
    const withSet = changes.map((c) => ({ ...c, changeSetId: id, changeSetSize: changes.length }));
    this.sink.deliver({
      kind: initial ? "load" : "set",
      changes: withSet,
      changeSetId: id,
      complete: true,
    });
  }

  /** The change for a parsed file, or undefined when its key already holds this content. */
  private put(r: Extract<FileReading, { kind: "parsed" }>): Change | undefined {
    const { key, config, file } = r;
    if (this.delivered.get(key)?.sha256 === config.sha256) return undefined;
    const change = this.changed(key, {
      op: "put",
      entry: ConfigEntry.create({
        key,
        payload: config.payload,
        contentType: "application/json",
        sourceFormat:
          config.format === "yaml" ? ConfigEntry.SourceFormat.YAML : ConfigEntry.SourceFormat.JSON,
        sha256: config.sha256,
        sourcePath: file.sourcePath,
        updatedAtMs: Math.round(r.mtimeMs),
        publishedBy: "file",
      }),
    });
    this.delivered.set(key, { sha256: config.sha256, revision: change.revision });
    return change;
  }

  private changed(key: string, what: Pick<Change, "op" | "entry">): Change {
    const revision = ++this.revision;
    this.lastChange.set(key, revision);
    return { key, revision, origin: "file", ...what };
  }

  /** Logs each refused content once (until the file is fixed or gone). */
  private logRefusals(readings: readonly FileReading[]): void {
    const logged = new Map(this.refusalsLogged);
    this.refusalsLogged.clear();
    for (const r of readings) {
      if (r.kind !== "refused") continue;
      const path = r.file.sourcePath;
      this.refusalsLogged.set(path, r.fingerprint);
      if (logged.get(path) === r.fingerprint) continue;
      const { line, column, reason, code } = r.problem;
      const at = line > 0 ? ` (line ${line}, column ${column})` : "";
      const kept = r.key ? `; key ${r.key} keeps its last good value` : "";
      this.logger.warn(`config file ${path} not applied${at}: ${reason} [${code}]${kept}`);
    }
  }
}
