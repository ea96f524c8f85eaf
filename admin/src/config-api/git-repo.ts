import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";

/** One file of a commit: its path relative to the repository, and its new bytes (null: deleted). */
export interface FileChange {
  path: string;
  bytes: Uint8Array | null;
}

/** A commit as `git log` lists it for one file. */
export interface FileCommit {
  commit: string;
  author: string;
  atMs: number;
  subject: string;
}

/** HEAD changed between reading it and committing on it (another writer committed). */
export class HeadMovedError extends Error {
  constructor(detail: string) {
    super(`the folder's HEAD moved while the commit was made: ${detail}`);
    this.name = "HeadMovedError";
  }
}

/** Who commits for the API: the acting admin is the author, this is the committer. */
const COMMITTER = { name: "Konorkestra admin API", email: "kon-admin@localhost" };
const ZERO_OID = "0000000000000000000000000000000000000000";

interface IndexEntry {
  path: string;
  /** Absent: the path is removed. */
  blob?: string;
}

/** `update-index --index-info` input: mode 0 with the zero id removes a path. */
function indexInfo(entries: IndexEntry[]): Buffer {
  const lines = entries.map((e) =>
    e.blob ? `100644 ${e.blob}\t${e.path}` : `0 ${ZERO_OID}\t${e.path}`,
  );
  return Buffer.from(lines.join("\n") + "\n");
}

interface GitRun {
  stdout: Buffer;
  code: number;
  stderr: string;
}

/**
 * The top level of the repository that holds `real`, or undefined. A repository found above the
 * root that ignores it (the local stack's `.stack/config` inside the project's own clone) does not
 * hold it: API commits must never land in that repository, nor be refused for its remote.
 */
async function holdingRepository(real: string): Promise<string | undefined> {
  const top = await run(real, ["rev-parse", "--show-toplevel"]);
  if (top.code !== 0) return undefined;
  const topLevel = top.stdout.toString().trim();
  if (topLevel === real) return topLevel;
  const ignored = await run(topLevel, ["check-ignore", "-q", real]);
  return ignored.code === 0 ? undefined : topLevel;
}

/**
 * The git repository that holds the config root. Commits are made with plumbing on a private
 * index (hash-object, update-index, write-tree, commit-tree, then `update-ref` of the branch with
 * the parent as the expected old value: compare-and-set, so several admin instances may share a
 * folder), and only then do the files appear in the work tree: when the loader sees a file
 * change, HEAD already holds that content, so it publishes the entry with this commit and author
 * (a file written before its commit would be published as uncommitted, and not again).
 */
export class GitRepo {
  private constructor(readonly topLevel: string) {}

  /** The repository the root is in, undefined when there is none (nothing is created). */
  static async find(root: string): Promise<GitRepo | undefined> {
    const real = await realpath(root).catch(() => undefined);
    if (real === undefined) return undefined;
    const top = await holdingRepository(real);
    return top === undefined ? undefined : new GitRepo(top);
  }

  /**
   * The repository the root is in; when there is none, one is made at the root and everything
   * already there is committed once, so that every key has a commit from then on.
   */
  static async open(root: string): Promise<GitRepo> {
    const real = await realpath(root);
    const top = await holdingRepository(real);
    if (top !== undefined) return new GitRepo(top);
    await must(real, ["init", "-q", "-b", "main"]);
    const repo = new GitRepo(real);
    await must(real, ["add", "-A"]);
    const staged = await run(real, ["diff", "--cached", "--quiet"]);
    if (staged.code !== 0) {
      await must(real, ["commit", "-q", "-m", "kon: config folder under version control"], {
        env: identityEnv(`${COMMITTER.name} <${COMMITTER.email}>`),
      });
    }
    return repo;
  }

  /** `abs` relative to the work tree, `/`-separated (what git names it). */
  relPath(abs: string): string {
    return relative(this.topLevel, abs).split(sep).join("/");
  }

  /**
   * Why this repository must not take API commits, or undefined. The rule (docs): a folder
   * mirrors a remote when its repository has any remote configured (git-sync clones one), or
   * when a `.kon/mirror` file exists in the group folder or at the top of the work tree.
   */
  async mirrorReason(groupDir: string): Promise<string | undefined> {
    for (const marker of [
      join(groupDir, ".kon", "mirror"),
      join(this.topLevel, ".kon", "mirror"),
    ]) {
      if (existsSync(marker)) return `marker file ${this.relPath(marker)}`;
    }
    const remote = await this.firstRemote();
    return remote === undefined ? undefined : `git remote ${remote}`;
  }

  /** A configured remote's name; read from `.git/config` when it is a plain repository. */
  private async firstRemote(): Promise<string | undefined> {
    const config = await readFile(join(this.topLevel, ".git", "config"), "utf8").catch(
      () => undefined,
    );
    if (config !== undefined) return /^\s*\[remote\s+"([^"]+)"\]/m.exec(config)?.[1];
    const remotes = (await must(this.topLevel, ["remote"])).toString().trim();
    return remotes === "" ? undefined : remotes.split("\n")[0];
  }

  async head(): Promise<string | undefined> {
    const r = await run(this.topLevel, ["rev-parse", "--verify", "-q", "HEAD"]);
    return r.code === 0 ? r.stdout.toString().trim() : undefined;
  }

  /**
   * The ref a commit moves: the branch HEAD points at (`refs/heads/<b>`), or HEAD itself when it
   * is detached.
   */
  async branchRef(): Promise<string> {
    const r = await run(this.topLevel, ["symbolic-ref", "-q", "HEAD"]);
    return r.code === 0 ? r.stdout.toString().trim() : "HEAD";
  }

  /**
   * Commits `changes` on top of `parent` (default: HEAD now) with `author` ("Name <email>") and
   * returns the commit. The branch is moved by compare-and-set (`update-ref <branch> <new>
   * <parent>`): when anyone else (another admin instance on the same folder, a person) moved it
   * since `parent` was read, nothing is committed and {@link HeadMovedError} says so; the caller
   * re-reads and retries. The work tree and the repository's index are not touched here (see
   * {@link followHead}).
   */
  async commit(
    changes: FileChange[],
    author: string,
    message: string,
    parent?: string | null,
  ): Promise<string> {
    const base = parent === undefined ? await this.head() : (parent ?? undefined);
    const ref = await this.branchRef();
    const scratch = await mkdtemp(join(tmpdir(), "kon-git-"));
    const env = { ...identityEnv(author), GIT_INDEX_FILE: join(scratch, "index") };
    try {
      if (base) await must(this.topLevel, ["read-tree", base], { env });
      const entries = await this.hashBlobs(changes, scratch);
      await must(this.topLevel, ["update-index", "--index-info"], {
        env,
        input: indexInfo(entries),
      });
      const tree = (await must(this.topLevel, ["write-tree"], { env })).toString().trim();
      const args = ["commit-tree", tree, ...(base ? ["-p", base] : []), "-m", message];
      const commit = (await must(this.topLevel, args, { env })).toString().trim();
      const moved = await run(this.topLevel, ["update-ref", ref, commit, base ?? ZERO_OID]);
      if (moved.code !== 0) throw new HeadMovedError(moved.stderr.trim().slice(0, 300));
      return commit;
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }

  /**
   * Makes `paths` in the work tree (and the repository's index) hold what HEAD holds, and returns
   * that HEAD. Two instances commit in one order but may write their files in the other: each
   * writes HEAD's content (not its own), then checks HEAD did not move meanwhile, else writes
   * again. Whoever finishes last wrote the newest commit's content, so a later commit's value is
   * never overwritten by an earlier one. `write(abs, bytes | null)` writes atomically or removes.
   */
  async followHead(
    paths: string[],
    write: (abs: string, bytes: Buffer | null) => Promise<void>,
  ): Promise<string | undefined> {
    let head = await this.head();
    for (let round = 0; head !== undefined && round < 20; round++) {
      // Index first: when the loader sees a file change, `git status` already calls it clean.
      await this.indexFollows(head, paths);
      for (const p of paths) {
        await write(join(this.topLevel, ...p.split("/")), (await this.show(head, p)) ?? null);
      }
      const now = await this.head();
      if (now === head) break;
      head = now;
    }
    return head;
  }

  /**
   * The repository's own index follows `head` for these paths, so `git status` (which the loader
   * reads to decide whether a file's content is committed) shows them clean once the work tree
   * holds the same bytes. Another instance may hold `index.lock` for a moment: retried; a
   * failure costs only provenance (the loader then records no commit), never the commit.
   */
  private async indexFollows(head: string, paths: string[]): Promise<void> {
    const listed = await run(this.topLevel, ["ls-tree", "-z", head, "--", ...paths]);
    if (listed.code !== 0) return;
    const blobs = new Map<string, string>();
    for (const line of listed.stdout.toString().split("\0")) {
      const m = /^\d+ blob ([0-9a-f]+)\t(.*)$/s.exec(line);
      if (m) blobs.set(m[2]!, m[1]!);
    }
    const entries = paths.map((p) => {
      const blob = blobs.get(p);
      return blob ? { path: p, blob } : { path: p };
    });
    for (let attempt = 0; attempt < 20; attempt++) {
      const r = await run(this.topLevel, ["update-index", "--index-info"], {
        input: indexInfo(entries),
      });
      if (r.code === 0 || !/index\.lock/.test(r.stderr)) return;
      await new Promise((resolve) => setTimeout(resolve, 10 + attempt * 10));
    }
  }

  /** Writes the new contents as blobs (one git process for all of them). */
  private async hashBlobs(changes: FileChange[], scratch: string): Promise<IndexEntry[]> {
    const files: string[] = [];
    for (const [i, c] of changes.entries()) {
      if (c.bytes === null) continue;
      const f = join(scratch, `blob-${i}`);
      await writeFile(f, c.bytes);
      files.push(f);
    }
    const blobs = files.length
      ? (
          await must(this.topLevel, ["hash-object", "-w", "--no-filters", "--stdin-paths"], {
            input: Buffer.from(files.join("\n") + "\n"),
          })
        )
          .toString()
          .trim()
          .split("\n")
      : [];
    let next = 0;
    return changes.map((c) =>
      c.bytes === null ? { path: c.path } : { path: c.path, blob: blobs[next++] },
    );
  }

  /** Commits that changed `path`, newest first (at most `max`), following no renames. */
  async log(path: string, max: number): Promise<FileCommit[]> {
    if ((await this.head()) === undefined) return []; // a repository without a commit yet
    const out = await must(this.topLevel, [
      "log",
      `--max-count=${max}`,
      "--format=%H%x1f%an <%ae>%x1f%at%x1f%s",
      "--",
      path,
    ]);
    return out
      .toString()
      .split("\n")
      .filter((l) => l.length > 0)
      .map((l) => {
        const [commit, author, at, subject] = l.split("\x1f");
        return {
          commit: commit!,
          author: author ?? "",
          atMs: Number(at) * 1000,
          subject: subject ?? "",
        };
      });
  }

  /** The bytes of `path` at `commit`, undefined when it does not exist there. */
  async show(commit: string, path: string): Promise<Buffer | undefined> {
    const r = await run(this.topLevel, ["show", `${commit}:${path}`]);
    return r.code === 0 ? r.stdout : undefined;
  }

  /** Author and time of a commit, undefined when unknown. */
  async commitInfo(commit: string): Promise<{ author: string; atMs: number } | undefined> {
    const r = await run(this.topLevel, ["show", "-s", "--format=%an <%ae>%x1f%at", commit]);
    if (r.code !== 0) return undefined;
    const [author, at] = r.stdout.toString().trim().split("\x1f");
    return { author: author ?? "", atMs: Number(at) * 1000 };
  }
}

/** `Name <email>` → the author and committer variables of git. */
function identityEnv(author: string): Record<string, string> {
  const m = /^(.*?)\s*<([^>]*)>$/.exec(author);
  return {
    GIT_AUTHOR_NAME: m?.[1] || author,
    GIT_AUTHOR_EMAIL: m?.[2] ?? "",
    GIT_COMMITTER_NAME: COMMITTER.name,
    GIT_COMMITTER_EMAIL: COMMITTER.email,
  };
}

/** Runs git without a shell; never throws for a non-zero exit. */
function run(
  cwd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: Uint8Array } = {},
): Promise<GitRun> {
  return new Promise((resolve, reject) => {
    const child = spawn("git", ["-C", cwd, ...args], {
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_OPTIONAL_LOCKS: "0", ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        stdout: Buffer.concat(out),
        code: code ?? 1,
        stderr: Buffer.concat(err).toString(),
      }),
    );
    child.stdin.end(opts.input ? Buffer.from(opts.input) : undefined);
  });
}

async function must(
  cwd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: Uint8Array } = {},
): Promise<Buffer> {
  const r = await run(cwd, args, opts);
  if (r.code !== 0) {
    throw new Error(`git ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().slice(0, 300)}`);
  }
  return r.stdout;
}
