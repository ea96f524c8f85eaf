import { chownSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

/** A temporary directory a server can write to, seen from the host and from inside its chroot. */
export interface ScratchDir {
  /** Path on this machine. */
  hostPath: string;
  /** The same directory as the server sees it (inside `root`, when it runs in a chroot). */
  serverPath: string;
  remove(): void;
}

/** uid and gid of `user` in `<root>/etc/passwd`. */
export function lookupUser(root: string, user: string): { uid: number; gid: number } {
  const passwd = readFileSync(join(root || "/", "etc", "passwd"), "utf8");
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    if (f[0] === user && f[2] !== undefined && f[3] !== undefined) {
      return { uid: Number(f[2]), gid: Number(f[3]) };
    }
  }
  throw new Error(`testkit: user '${user}' not found in ${join(root || "/", "etc", "passwd")}`);
}

/**
 * Makes `kon-<prefix>-XXXXXX` under the root's /tmp (so a chrooted server can reach it) and hands
 * it to `user` when one is given.
 */
export function makeScratchDir(prefix: string, root: string, user: string): ScratchDir {
  const base = root && root !== "/" ? join(root, "tmp") : (process.env.KON_TEST_TMPDIR ?? "/tmp");
  const hostPath = mkdtempSync(join(base, `kon-${prefix}-`));
  if (user) {
    const { uid, gid } = lookupUser(root, user);
    chownSync(hostPath, uid, gid);
  }
  const serverPath = root && root !== "/" ? hostPath.slice(root.length) : hostPath;
  return {
    hostPath,
    serverPath,
    remove: () => rmSync(hostPath, { recursive: true, force: true }),
  };
}
