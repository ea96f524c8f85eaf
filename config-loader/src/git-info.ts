import { execFile } from "node:child_process";
import { join, sep } from "node:path";
import { promisify } from "node:util";

/** The commit a folder of a git work tree is checked out at. */
export interface GitInfo {
  /** Work tree top level (symlinks resolved, as git reports it). */
  topLevel: string;
  /** HEAD commit hash. */
  commit: string;
  /** Author of HEAD, `Name <email>`. */
  author: string;
  /** Absolute paths whose content is in no commit (modified, added, untracked, ignored). */
  dirty: Set<string>;
  /**
   * For some clean files (by real path): the commit that last changed them, when it is not
   * HEAD's place to be credited (content published before any commit held it; see
   * {@link readLastCommits}).
   */
  lastCommits?: Map<string, { commit: string; author: string }>;
}

const execFileAsync = promisify(execFile);

async function git(dir: string, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("git", ["-C", dir, ...args], {
    timeout: 5000,
    maxBuffer: 16 * 1024 * 1024,
    // No optional locks: git-sync may be writing the same repository.
    env: { ...process.env, GIT_OPTIONAL_LOCKS: "0" },
  });
  return stdout;
}

/** Times HEAD is read again when a commit lands while the work tree's status is being read. */
const SNAPSHOT_ATTEMPTS = 3;

/**
 * Reads HEAD's commit and author for `dir`, or undefined when `dir` is not in a git work tree, the
 * repository has no commit yet, git is missing, or HEAD kept moving while it was read. Never
 * throws. `git` runs without a shell.
 *
 * HEAD is read before and after the status: a commit landing in between would otherwise pair the
 * old HEAD with a status that already counts the new commit's files as clean, and a file would
 * be credited to the commit before the one that holds its content.
 */
export async function readGitInfo(dir: string): Promise<GitInfo | undefined> {
  try {
    const topLevel = (await git(dir, ["rev-parse", "--show-toplevel"])).trim();
    for (let attempt = 0; attempt < SNAPSHOT_ATTEMPTS; attempt++) {
      const [commit, author] = (await git(dir, ["log", "-1", "--format=%H%x09%an <%ae>"]))
        .trim()
        .split("\t");
      if (!commit) return undefined;
      const status = await git(dir, [
        "status",
        "--porcelain=v1",
        "-z",
        "--untracked-files=all",
        "--ignored",
        "--",
        ".",
      ]);
      if ((await readHead(dir)) !== commit) continue;
      return { topLevel, commit, author: author ?? "", dirty: parseDirty(topLevel, status) };
    }
    return undefined;
  } catch {
    return undefined;
  }
}

/** `XY path\0` entries; a rename (`R`/`C`) carries its old path as the next entry. */
function parseDirty(topLevel: string, status: string): Set<string> {
  const dirty = new Set<string>();
  const parts = status.split("\0");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (p.length < 4) continue;
    dirty.add(join(topLevel, p.slice(3)));
    if (p[0] === "R" || p[0] === "C") i++;
  }
  return dirty;
}

/**
 * Commit and author to record for a file (by its real path): HEAD's, when the file is in the work
 * tree and has no uncommitted changes; otherwise empty, because no commit holds that content.
 * `links` are the symbolic links the file was reached through (their own paths): when one of
 * them is uncommitted (an untracked link to a committed file), no commit published that key
 * either, and the fields are empty.
 */
export function gitFieldsFor(
  info: GitInfo | undefined,
  realPath: string,
  links: readonly string[] = [],
): { gitCommit: string; gitAuthor: string } {
  const committed = (p: string): boolean =>
    info !== undefined && p.startsWith(info.topLevel + sep) && !info.dirty.has(p);
  if (!info || !committed(realPath) || !links.every(committed)) {
    return { gitCommit: "", gitAuthor: "" };
  }
  const last = links.length === 0 ? info.lastCommits?.get(realPath) : undefined;
  if (last) return { gitCommit: last.commit, gitAuthor: last.author };
  return { gitCommit: info.commit, gitAuthor: info.author };
}

/** git processes run at once by {@link readLastCommits}. */
const LAST_COMMIT_WIDTH = 8;

/**
 * The commit that last changed each of `realPaths` (clean files of `info`'s work tree), up to
 * HEAD; added to `info.lastCommits`. For content published before a commit held it: the commit
 * to credit is the one that brought that content in, not whichever HEAD the loader happens to
 * see next (a later commit that touched other files). A path git cannot answer for keeps HEAD.
 */
export async function readLastCommits(
  dir: string,
  info: GitInfo,
  realPaths: readonly string[],
): Promise<void> {
  const found = info.lastCommits ?? new Map<string, { commit: string; author: string }>();
  info.lastCommits = found;
  for (let i = 0; i < realPaths.length; i += LAST_COMMIT_WIDTH) {
    await Promise.all(
      realPaths.slice(i, i + LAST_COMMIT_WIDTH).map(async (p) => {
        try {
          const out = await git(dir, [
            "log",
            "-1",
            "--format=%H%x09%an <%ae>",
            info.commit,
            "--",
            p,
          ]);
          const [commit, author] = out.trim().split("\t");
          if (commit) found.set(p, { commit, author: author ?? "" });
        } catch {
          // keeps HEAD's
        }
      }),
    );
  }
}

/** HEAD's commit for `dir`, or undefined (not a work tree, no commit, git missing). */
export async function readHead(dir: string): Promise<string | undefined> {
  try {
    return (await git(dir, ["rev-parse", "--verify", "-q", "HEAD"])).trim() || undefined;
  } catch {
    return undefined;
  }
}
