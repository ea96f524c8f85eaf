import { watch as fsWatch } from "node:fs";
import type { FSWatcher as NodeWatcher } from "node:fs";
import { lstat, realpath, stat } from "node:fs/promises";
import { basename, dirname, relative, sep } from "node:path";
import { watch } from "chokidar";
import type { FSWatcher } from "chokidar";
import type { Logger } from "@konorkestra/sdk";
import { isIgnoredName } from "@konorkestra/sdk/internal";

/** What changed in one debounce window. */
export interface FolderChange {
  /** The root moved (symlink flip) or changed as a whole: reconcile everything. */
  full: boolean;
  /** Group folders with events in the window. */
  groups: Set<string>;
}

export interface FolderWatcherOptions {
  /** The configured root (may be, or pass through, a symlink). */
  root: string;
  debounceMs: number;
  debounceMaxMs: number;
  logger: Logger;
  onChange(change: FolderChange): void;
}

/**
 * Watches the config tree with chokidar and turns bursts of file events into one
 * {@link FolderChange} per debounce window (quiet for `debounceMs`, or `debounceMaxMs` after the
 * first event): an editor's temp-file-and-rename, twenty quick saves or a `git pull` become one
 * change set per group, and the last content wins because the loader reads files when the window
 * closes, not per event.
 *
 * git-sync publishes a revision by renaming a new symlink over `<root>` (or an ancestor). A watch
 * on the resolved tree would never see that, so the parent folder of every symlink on the root's
 * path is watched too; when the root resolves elsewhere the tree watch is moved and a full
 * reconcile is requested.
 */
export class FolderWatcher {
  private tree: FSWatcher | undefined;
  private treeRoot: string | undefined;
  private treeIdentity: string | undefined;
  private links: NodeWatcher[] = [];
  private readonly dirty = new Set<string>();
  private full = false;
  private quietTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;
  private checking: Promise<void> = Promise.resolve();
  private stopped = false;
  private started = false;

  constructor(private readonly opts: FolderWatcherOptions) {}

  /** Resolved root being watched, if it exists. */
  get watchedRoot(): string | undefined {
    return this.treeRoot;
  }

  async start(): Promise<void> {
    await this.checkRoot();
  }

  /**
   * Re-resolves the root; when it moved (or appeared), moves the tree watch to it and requests a
   * full reconcile. Serialized, so overlapping link events cannot start two tree watches.
   */
  checkRoot(): Promise<void> {
    this.checking = this.checking
      .then(() => this.doCheckRoot())
      .catch((err: unknown) => {
        this.opts.logger.warn(`config watch: ${String(err)}`);
      });
    return this.checking;
  }

  private async doCheckRoot(): Promise<void> {
    if (this.stopped) return;
    const real = await realpath(this.opts.root).catch(() => undefined);
    // The inode too: a root deleted and created again under the same path is a new folder.
    const identity =
      real &&
      (await stat(real).then(
        (s) => `${real}\0${s.dev}:${s.ino}`,
        () => undefined,
      ));
    const moved = identity !== this.treeIdentity;
    if (!moved && this.links.length > 0) return;
    await this.watchLinks();
    if (moved) {
      await this.tree?.close();
      this.tree = undefined;
      this.treeRoot = identity === undefined ? undefined : real;
      this.treeIdentity = identity;
      if (this.treeRoot !== undefined) this.tree = await this.watchTree(this.treeRoot);
      // The first resolution is the start, which reconciles anyway; later ones are moves.
      if (this.started) this.note(undefined);
    }
    this.started = true;
  }

  private async watchTree(root: string): Promise<FSWatcher> {
    const ignored = (p: string): boolean => {
      const rel = relative(root, p);
      return rel !== "" && !rel.startsWith("..") && rel.split(sep).some(isIgnoredName);
    };
    // atomic: false — chokidar's atomic mode holds a rename for 100 ms to merge unlink + add; the
    // debounce window below already merges them (files are read at flush time), so it only adds
    // latency to every editor save.
    const w = watch(root, { ignoreInitial: true, followSymlinks: true, ignored, atomic: false });
    w.on("all", (_event, path) => {
      const rel = relative(root, path);
      if (rel.startsWith("..")) return;
      this.note(rel === "" ? undefined : rel.split(sep)[0]);
    });
    w.on("error", (err) => this.opts.logger.warn(`config watch error: ${String(err)}`));
    await new Promise<void>((resolve) => w.once("ready", () => resolve()));
    return w;
  }

  /** Watches the parent of the root and of every symlink on the root's path. */
  private async watchLinks(): Promise<void> {
    for (const l of this.links) l.close();
    this.links = [];
    const targets = new Set<string>([this.opts.root]);
    for (let p = this.opts.root; dirname(p) !== p; p = dirname(p)) {
      const isLink = await lstat(p).then(
        (s) => s.isSymbolicLink(),
        () => false,
      );
      if (isLink) targets.add(p);
    }
    for (const target of targets) {
      try {
        const name = basename(target);
        const w = fsWatch(dirname(target), (_event, file) => {
          if (file === null || file === name) void this.checkRoot();
        });
        w.on("error", () => undefined); // the folder went away; the next check re-creates watches
        this.links.push(w);
      } catch {
        // Parent missing: the periodic resync calls checkRoot again.
      }
    }
  }

  /** Records an event; `group` undefined means "everything". */
  private note(group: string | undefined): void {
    if (this.stopped) return;
    if (group === undefined) this.full = true;
    else if (!isIgnoredName(group)) this.dirty.add(group);
    else return;
    clearTimeout(this.quietTimer);
    this.quietTimer = setTimeout(() => this.flush(), this.opts.debounceMs);
    this.maxTimer ??= setTimeout(() => this.flush(), this.opts.debounceMaxMs);
  }

  private flush(): void {
    clearTimeout(this.quietTimer);
    clearTimeout(this.maxTimer);
    this.quietTimer = undefined;
    this.maxTimer = undefined;
    const change: FolderChange = { full: this.full, groups: new Set(this.dirty) };
    this.full = false;
    this.dirty.clear();
    if (!this.stopped && (change.full || change.groups.size > 0)) this.opts.onChange(change);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.quietTimer);
    clearTimeout(this.maxTimer);
    for (const l of this.links) l.close();
    this.links = [];
    await this.checking;
    await this.tree?.close();
    this.tree = undefined;
  }
}
