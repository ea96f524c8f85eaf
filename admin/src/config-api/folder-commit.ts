import type { Logger } from "@konorkestra/sdk";
import type { WriteIntentRecord } from "@konorkestra/sdk/internal";
import { intentBytes } from "./config-folder";
import type { ConfigFolder } from "./config-folder";
import { HeadMovedError } from "./git-repo";
import type { FileChange, GitRepo } from "./git-repo";

/** One key of a commit: the value file's path and the bytes the API commits for it. */
export interface KeyWrite {
  key: string;
  /** Value file, relative to the repository (`/`-separated). */
  rel: string;
  bytes: Buffer;
  intent: WriteIntentRecord;
}

const REVERT_AUTHOR = "Konorkestra admin API <kon-admin@localhost>";
const MAX_REVERT_TRIES = 5;

/**
 * The API's side of the group folder's git repository, safe with several admin instances on one
 * folder: a commit is compare-and-set on the branch (the caller re-plans and retries when another
 * writer moved it), the work tree then follows HEAD rather than this commit (so an earlier
 * commit's bytes never land over a later one's), and a revert puts a key back only while HEAD
 * still holds this write's content (a later write by someone else stands).
 */
export class FolderCommit {
  constructor(
    private readonly folder: ConfigFolder,
    private readonly logger: Logger,
  ) {}

  /**
   * Commits the values and their write intents on `parent` (throws `HeadMovedError` when the
   * branch moved since), then makes the work tree follow HEAD. Intents are listed first, so
   * that when the loader sees a value file its intent is already there.
   */
  async commit(
    repo: GitRepo,
    group: string,
    writes: KeyWrite[],
    author: string,
    message: string,
    parent: string | null,
  ): Promise<string> {
    const changes: FileChange[] = [
      ...writes.map((w) => ({
        path: this.intentRel(repo, group, w.key),
        bytes: intentBytes(w.intent),
      })),
      ...writes.map((w) => ({ path: w.rel, bytes: w.bytes })),
    ];
    const commit = await repo.commit(changes, author, message, parent);
    await this.follow(
      repo,
      changes.map((c) => c.path),
    );
    return commit;
  }

  /**
   * A check, for one commit's wait, of whether a later commit replaced a key's content before
   * the loader published it: answers that commit, else undefined. HEAD is read at most every
   * `everyMs` for all keys, and a file only once HEAD has moved past `commit`, so a wait over
   * many keys costs one git process per poll.
   */
  supersededCheck(
    repo: GitRepo,
    commit: string,
    writes: KeyWrite[],
    everyMs = 100,
  ): (key: string) => Promise<string | undefined> {
    const byKey = new Map(writes.map((w) => [w.key, w]));
    let head: { at: number; oid: Promise<string | undefined> } | undefined;
    const stillOurs = new Map<string, string>(); // key → a HEAD where the file was this write's
    return async (key) => {
      const w = byKey.get(key);
      if (head === undefined || Date.now() - head.at >= everyMs) {
        head = { at: Date.now(), oid: repo.head() };
      }
      const oid = await head.oid;
      if (w === undefined || oid === undefined || oid === commit) return undefined;
      if (stillOurs.get(key) === oid) return undefined;
      const now = await repo.show(oid, w.rel);
      if (now === undefined || !now.equals(w.bytes)) return oid;
      stillOurs.set(key, oid);
      return undefined;
    };
  }

  /**
   * Puts refused or abandoned keys back to their content before `commit` (the file removed when
   * it had none) and removes their intents, so that folder and bucket agree. A key whose file at
   * HEAD is no longer this write's content is left alone: someone wrote it since, and theirs is
   * the newer value.
   */
  async revert(
    repo: GitRepo,
    group: string,
    commit: string,
    writes: KeyWrite[],
    why: string,
  ): Promise<void> {
    try {
      for (let attempt = 1; ; attempt++) {
        const head = (await repo.head()) ?? null;
        const changes: FileChange[] = [];
        for (const w of writes) {
          const now = head === null ? undefined : await repo.show(head, w.rel);
          if (now === undefined || !now.equals(w.bytes)) continue;
          changes.push({ path: w.rel, bytes: (await repo.show(`${commit}^`, w.rel)) ?? null });
          changes.push({ path: this.intentRel(repo, group, w.key), bytes: null });
        }
        if (changes.length === 0) return;
        try {
          await repo.commit(changes, REVERT_AUTHOR, `kon revert ${group}: ${why}\n`, head);
        } catch (err) {
          if (attempt < MAX_REVERT_TRIES && err instanceof HeadMovedError) continue;
          throw err;
        }
        await this.follow(
          repo,
          changes.map((c) => c.path),
        );
        return;
      }
    } catch (err) {
      this.logger.error(`cannot revert ${group} after ${why}: ${(err as Error).message}`);
    }
  }

  private intentRel(repo: GitRepo, group: string, key: string): string {
    return repo.relPath(this.folder.intentPath(group, key));
  }

  private async follow(repo: GitRepo, paths: string[]): Promise<void> {
    await repo.followHead(paths, async (abs, bytes) => {
      if (bytes === null) await this.folder.remove(abs);
      else await this.folder.writeAtomic(abs, bytes);
    });
  }
}
