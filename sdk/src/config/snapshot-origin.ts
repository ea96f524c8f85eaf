import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { assertPrivateFile, preparePrivateDir } from "./private-dir";

/** Path of a group's last-known-good snapshot: `<dir>/<prefix>-<group>.pb`. */
export function snapshotPath(dir: string, prefix: string, group: string): string {
  return join(dir, `${prefix}-${group}.pb`);
}

/**
 * Path of the note beside a snapshot saying which NATS servers its values came from (a hash of
 * them, never the addresses: a URL may carry a password).
 */
export function originPath(snapshot: string): string {
  return `${snapshot}.origin`;
}

/** The note's content. */
export interface SnapshotOriginNote {
  /** {@link serversFingerprint} of the servers the writer was connected to. */
  readonly servers: string;
  readonly savedAtMs: number;
}

/**
 * One hash for a set of NATS server addresses: order, case, credentials in the URL and a
 * missing `nats://` scheme do not count, so a rotated password or a reordered list is still
 * "the same servers".
 */
export function serversFingerprint(servers: readonly string[]): string {
  const normal = servers
    .map((s) => {
      const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `nats://${s}`;
      return withScheme.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, "$1").toLowerCase();
    })
    .sort();
  return createHash("sha256")
    .update([...new Set(normal)].join("\n"))
    .digest("hex");
}

/** Whether an offline start may use the snapshot, and why not. */
export type OriginVerdict = { ok: true; savedAt: Date } | { ok: false; why: string };

/**
 * Was this group's snapshot in `dir` written by a process connected to `servers`? That is what
 * makes a start while NATS is unreachable a restart during an outage rather than a wrong address.
 */
export async function snapshotWrittenFor(
  dir: string,
  prefix: string,
  group: string,
  servers: readonly string[],
): Promise<OriginVerdict> {
  const snap = snapshotPath(dir, prefix, group);
  const note = originPath(snap);
  try {
    await preparePrivateDir(dir);
    await assertPrivateFile(snap);
    await assertPrivateFile(note);
    const parsed = JSON.parse(await readFile(note, "utf8")) as Partial<SnapshotOriginNote>;
    if (parsed.servers !== serversFingerprint(servers)) {
      return {
        ok: false,
        why: `the snapshot ${snap} was written while connected to other NATS servers`,
      };
    }
    return { ok: true, savedAt: new Date(Number(parsed.savedAtMs ?? 0)) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") {
      return {
        ok: false,
        why: `no snapshot of group ${group} from these servers at ${snap} (this service never started against them here)`,
      };
    }
    return { ok: false, why: e instanceof SyntaxError ? `${note} is unreadable` : e.message };
  }
}
