import { chmod, lstat, mkdir, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { KonError, KonErrorCode } from "../errors";

/**
 * Makes sure `dir` exists and only this user can change what is in it: created 0700 when
 * missing; an existing directory (or the one a symlink points to) must be owned by this user and
 * not writable by group or others. Someone who can write there could plant a snapshot and so
 * choose the config a service starts on while NATS is down.
 * @throws {@link KonError} `SNAPSHOT_DIR_UNSAFE` saying what is wrong and how to fix it
 */
export async function preparePrivateDir(dir: string): Promise<void> {
  const existed = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw unsafe(dir, `cannot be examined (${err.code ?? String(err)})`);
  });
  if (!existed) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      // mkdir's mode is reduced by the umask, and an umask never adds bits: 0700 or less.
      await chmod(dir, 0o700);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw unsafe(dir, `cannot be created (${code})`);
    }
  }
  const st = await stat(dir);
  if (!st.isDirectory()) throw unsafe(dir, "is not a directory");
  const problem = ownershipProblem(st);
  if (problem) {
    throw unsafe(
      dir,
      `${problem}; make it private (chown to this user, chmod 700) or set KON_SNAPSHOT_DIR to one that is`,
    );
  }
}

/**
 * Checks a file inside a private directory before it is trusted: owned by this user, a regular
 * file (not a symlink), not writable by group or others.
 * @throws {@link KonError} `SNAPSHOT_DIR_UNSAFE`
 */
export async function assertPrivateFile(path: string): Promise<void> {
  const st = await lstat(path);
  if (!st.isFile()) throw unsafe(path, "is not a regular file (a symlink is not followed)");
  const problem = ownershipProblem(st);
  if (problem) throw unsafe(path, `${problem}; remove it or chmod 600 it`);
}

/** Why `st` may be changed by someone else, or undefined when only this user can. */
function ownershipProblem(st: Stats): string | undefined {
  const uid = process.getuid?.();
  if (uid === undefined) return undefined; // no POSIX owners (Windows): nothing to compare
  if (st.uid !== uid) return `is owned by uid ${st.uid}, not by this process's uid ${uid}`;
  const writable = st.mode & 0o022;
  if (writable !== 0) {
    const who = [writable & 0o020 ? "group" : "", writable & 0o002 ? "others" : ""]
      .filter(Boolean)
      .join(" and ");
    return `is writable by ${who} (mode ${(st.mode & 0o777).toString(8).padStart(4, "0")})`;
  }
  return undefined;
}

function unsafe(path: string, why: string): KonError {
  return new KonError(KonErrorCode.SnapshotDirUnsafe, `config snapshot location ${path} ${why}`);
}
