import type { Logger } from "@konorkestra/sdk";
import type { GroupScan, ReadCache } from "@konorkestra/sdk/internal";
import { ChangeSetWriter } from "./change-set-writer";
import type { ConfigStore, CurrentEntry, SchemaSource } from "./config-store";
import { FileEvaluator } from "./file-evaluator";
import type { Candidate } from "./file-evaluator";
import { gitFieldsFor, readGitInfo, readHead, readLastCommits } from "./git-info";
import type { GitInfo } from "./git-info";
import type { GroupSyncOptions, GroupSyncResult, WritePaths } from "./group-sync-result";
import { planGroup } from "./reconciler";
import type { GroupPlan } from "./reconciler";
import { RejectionAnnouncer } from "./rejection-announcer";
import type { RejectionLog } from "./rejection-log";

export type {
  ChangeSetReport,
  GroupSyncOptions,
  GroupSyncResult,
  RejectedFile,
  WritePaths,
} from "./group-sync-result";

/**
 * One pass over one group: read and validate every file, diff against the bucket, write the
 * difference as change sets, announce what was written and what was refused. A bad file never
 * stops the others: it is rejected alone and its key keeps its previous value (as git2consul and
 * Apollo do per file), so one team's typo does not hold back another's change.
 */
export class GroupSynchronizer {
  /** Per group, the HEAD commit whose provenance was last applied. */
  private readonly headSeen = new Map<string, string>();

  private readonly evaluator: FileEvaluator;
  private readonly writer: ChangeSetWriter;
  private readonly announcer: RejectionAnnouncer;

  constructor(
    private readonly store: ConfigStore,
    private readonly schemas: SchemaSource,
    rejections: RejectionLog,
    private readonly options: GroupSyncOptions,
    logger: Logger,
    /** Parses of unchanged files are taken from here; without it every file is parsed. */
    private readonly cache?: ReadCache,
    paths?: WritePaths,
  ) {
    this.evaluator = new FileEvaluator(
      schemas,
      options.maxValueBytes,
      () => store.maxPayload(),
      cache,
    );
    this.writer = new ChangeSetWriter(store, options, logger, paths);
    this.announcer = new RejectionAnnouncer(store, rejections, logger);
  }

  /** `scan` undefined means the group folder is gone: its keys go too (unless kept). */
  async sync(group: string, scan: GroupScan | undefined): Promise<GroupSyncResult> {
    const files = scan?.files ?? [];
    await this.schemas.refresh?.();
    const ev = await this.evaluator.evaluate(group, files);
    if (scan?.complete) this.cache?.retain(new Set(files.map((f) => f.sourcePath)), `${group}/`);
    const current = await this.store.current(group);
    const plan = planGroup(ev.candidates, current, {
      protectedKeys: ev.protectedKeys,
      keepDeleted: this.options.keepDeleted,
      allowDeletes: scan?.complete ?? true,
    });
    const git = await this.followCommit(group, scan, ev.candidates, current, plan);
    const result: GroupSyncResult = {
      group,
      filesScanned: files.length,
      changeSets: [],
      rejected: [],
      unchanged: plan.unchanged,
      kept: plan.kept,
      eventErrors: 0,
    };
    await this.writer.write(group, scan, plan, current, result, git);
    await this.announcer.announce(group, ev.rejections, current, result);
    return result;
  }

  /**
   * Provenance follows the commit: a key published while its file was uncommitted (git_commit
   * "") is published again, same value, once a commit holds that content, even though the
   * commit changed nothing in it. Git is asked only when HEAD moved since the last time.
   * Returns the git state read, if any, for the write.
   */
  private async followCommit(
    group: string,
    scan: GroupScan | undefined,
    candidates: Candidate[],
    current: ReadonlyMap<string, CurrentEntry>,
    plan: GroupPlan<Candidate>,
  ): Promise<GitInfo | undefined> {
    if (!this.options.git || !scan) return undefined;
    const planned = new Set(plan.puts.map((c) => c.key));
    const unproven = candidates.filter((c) => {
      const cur = current.get(c.key);
      return !planned.has(c.key) && cur?.sha256 === c.sha256 && cur.gitCommit === "";
    });
    if (plan.puts.length === 0 && unproven.length === 0) return undefined;
    if (plan.puts.length === 0) {
      const head = await readHead(scan.realDir);
      if (head === undefined || head === this.headSeen.get(group)) return undefined;
    }
    const git = await readGitInfo(scan.realDir);
    if (!git) return undefined;
    this.headSeen.set(group, git.commit);
    const proven = unproven.filter(
      (c) => gitFieldsFor(git, c.file.realPath, c.file.links).gitCommit !== "",
    );
    if (proven.length > 0) {
      // Credit each the commit that brought its content in (N3), not HEAD.
      await readLastCommits(
        scan.realDir,
        git,
        proven.filter((c) => !c.file.links).map((c) => c.file.realPath),
      );
      plan.puts = [...plan.puts, ...proven].sort((a, b) => (a.key < b.key ? -1 : 1));
      plan.unchanged -= proven.length;
    }
    return git;
  }
}
