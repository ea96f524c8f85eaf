import type { Dirent } from "node:fs";
import { readdir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { KonError, KonErrorCode } from "../errors";
import { groupNameProblem, isIgnoredName, keyForPath } from "./key-mapper";
import type { PathMapping } from "./key-mapper";

/** A file under a group folder that looks like config (valid key or not). */
export interface ScannedFile {
  /** Path relative to the config root, `/`-separated (ConfigEntry.source_path). */
  sourcePath: string;
  /** Absolute path under the resolved root. */
  absPath: string;
  /** With every symlink resolved; "" for a broken link. */
  realPath: string;
  mapping: Exclude<PathMapping, { kind: "ignored" }>;
  /**
   * Set when a symbolic link on the way leads outside the config root: the file (or, for a
   * folder, everything under it) is refused and never read. Says where the link leads.
   */
  escapesTo?: string;
  /** With `escapesTo`: why the link is not followed, in a config author's words. */
  escapeReason?: string;
  /**
   * The symbolic links passed on the way from the group folder to this file (the file itself
   * and any folder link), each by its own path with its parent folder resolved: a file read
   * through a link is only as committed as the link itself (provenance).
   */
  links?: string[];
}

/** One group folder as found on disk. */
export interface GroupScan {
  group: string;
  realDir: string;
  files: ScannedFile[];
  /**
   * False when part of the folder could not be listed: keys whose file was not seen may still
   * have one, so nothing is deleted from this group on this pass.
   */
  complete: boolean;
  /** Why the scan is incomplete. */
  problems: string[];
}

/** The whole tree. */
export interface TreeScan {
  realRoot: string;
  groups: Map<string, GroupScan>;
  /** Folders under the root that are not valid group names, with the reason. */
  skipped: { name: string; reason: string }[];
}

/**
 * The config root with every symlink resolved. git-sync flips `<root>/current → rev-…`
 * atomically, so this is resolved afresh on every scan and the whole scan reads one revision.
 */
export async function resolveRoot(root: string): Promise<string> {
  try {
    const real = await realpath(root);
    if (!(await stat(real)).isDirectory()) throw new Error("not a directory");
    return real;
  } catch (err) {
    throw new KonError(
      KonErrorCode.ConfigDirUnavailable,
      `config directory ${root} unavailable: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

/** Lists the group folders under the root and scans each of them. */
export async function scanTree(root: string): Promise<TreeScan> {
  const realRoot = await resolveRoot(root);
  let entries: Dirent[];
  try {
    entries = await readdir(realRoot, { withFileTypes: true });
  } catch (err) {
    throw new KonError(
      KonErrorCode.ConfigDirUnavailable,
      `cannot list config directory ${root}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const groups = new Map<string, GroupScan>();
  const skipped: { name: string; reason: string }[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (isIgnoredName(e.name) || !(await isDirectory(join(realRoot, e.name), e))) continue;
    const problem = groupNameProblem(e.name);
    if (problem) {
      skipped.push({ name: e.name, reason: problem });
      continue;
    }
    const scan = await scanGroup(realRoot, e.name);
    if (scan) groups.set(e.name, scan);
  }
  return { realRoot, groups, skipped };
}

async function isDirectory(path: string, e: Dirent): Promise<boolean> {
  if (e.isDirectory()) return true;
  if (!e.isSymbolicLink()) return false;
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  );
}

/** True when `real` (symlinks resolved) is the root or lies under it. */
export function isUnderRoot(realRoot: string, real: string): boolean {
  return real === realRoot || real.startsWith(realRoot.endsWith(sep) ? realRoot : realRoot + sep);
}

/**
 * Scans one group folder; undefined when the folder does not exist (any more). The root and the
 * group folder may themselves be symbolic links to anywhere: that is the deployment's layout
 * (git-sync flips `current → rev-…`, a group folder may point into a store of revisions).
 * Inside the group folder, a link is followed only while it stays under the group folder's
 * target: one that leads elsewhere (to `/etc/hostname`, to another tree, or to another group's
 * folder under the same root) is listed as refused and never read, so a config author's link
 * cannot publish the host's files, nor another group's configs to this group's members.
 */
export async function scanGroup(root: string, group: string): Promise<GroupScan | undefined> {
  let realRoot: string;
  let realDir: string;
  const dir = join(root, group);
  try {
    realRoot = await realpath(root);
    realDir = await realpath(dir);
    if (!(await stat(realDir)).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  const scan: GroupScan = { group, realDir, files: [], complete: true, problems: [] };
  const inside = (real: string): boolean => isUnderRoot(realDir, real);
  await walk(scan, realRoot, inside, { dir, realDir, links: [] }, group, "", new Set([realDir]));
  scan.files.sort((a, b) => a.sourcePath.localeCompare(b.sourcePath));
  return scan;
}

/**
 * Why a link whose target is `real` is not followed: it leaves the config root, or it leads into
 * another part of the root than the group's own folder (another group's folder).
 */
export function linkEscapeReason(realRoot: string, real: string): string {
  return isUnderRoot(realRoot, real)
    ? `symbolic link leads outside its group's folder (to ${real}); only links within the group's own folder are followed`
    : `symbolic link leads outside the config root (to ${real}); only links within the group's own folder are followed`;
}

/**
 * A link out of the group's folder: refused, and the group keeps its keys (what is behind the
 * link is not listed, so no key may be deleted on its account).
 */
function escaped(
  scan: GroupScan,
  realRoot: string,
  sourcePath: string,
  absPath: string,
  real: string,
): void {
  const reason = linkEscapeReason(realRoot, real);
  scan.files.push({
    sourcePath,
    absPath,
    realPath: real,
    mapping: { kind: "invalid", reason },
    escapesTo: real,
  });
  scan.complete = false;
  scan.problems.push(`${sourcePath}: ${reason}`);
}

/** A folder being walked: its path as listed, its real path, the links that led to it. */
interface WalkDir {
  dir: string;
  realDir: string;
  links: string[];
}

async function walk(
  scan: GroupScan,
  realRoot: string,
  inside: (real: string) => boolean,
  here: WalkDir,
  group: string,
  rel: string,
  ancestors: Set<string>,
): Promise<void> {
  const { dir } = here;
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    scan.complete = false;
    scan.problems.push(`cannot list ${join(group, rel)}: ${(err as Error).message}`);
    return;
  }
  for (const e of entries) {
    if (isIgnoredName(e.name)) continue;
    const abs = join(dir, e.name);
    const relPath = rel ? `${rel}/${e.name}` : e.name;
    const real = await realpath(abs).catch(() => "");
    const isDir = real !== "" && (await isDirectory(abs, e));
    const links = e.isSymbolicLink() ? [...here.links, join(here.realDir, e.name)] : here.links;
    if (real && !inside(real)) {
      const mapping = keyForPath(relPath);
      if (isDir) escaped(scan, realRoot, `${group}/${relPath}/`, abs, real);
      else if (mapping.kind !== "ignored") {
        scan.files.push({
          sourcePath: `${group}/${relPath}`,
          absPath: abs,
          realPath: real,
          mapping,
          escapesTo: real,
          escapeReason: linkEscapeReason(realRoot, real),
        });
      }
      continue;
    }
    if (isDir) {
      // A symlinked folder pointing at one of its ancestors would recurse forever.
      if (ancestors.has(real)) {
        scan.problems.push(`symlink loop at ${group}/${relPath} ignored`);
        continue;
      }
      const next = { dir: abs, realDir: real, links };
      await walk(scan, realRoot, inside, next, group, relPath, new Set([...ancestors, real]));
      continue;
    }
    const mapping = keyForPath(relPath);
    if (mapping.kind === "ignored") continue;
    scan.files.push({
      sourcePath: `${group}/${relPath}`,
      absPath: abs,
      realPath: real,
      mapping,
      ...(links.length > 0 ? { links } : {}),
    });
  }
}
