import { randomUUID } from "node:crypto";
import type { ConfigEntryInit } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import type { GroupScan } from "@konorkestra/sdk/internal";
import { writtenEvent } from "./config-events";
import type { ChangeMessage, ConfigStore, CurrentEntry } from "./config-store";
import { buildEntry } from "./entry-builder";
import type { Candidate } from "./file-evaluator";
import { gitFieldsFor } from "./git-info";
import type { GitInfo } from "./git-info";
import type { GroupSyncOptions, GroupSyncResult, WritePaths } from "./group-sync-result";
import { splitChangeSet } from "./reconciler";
import type { GroupPlan } from "./reconciler";
import { publishSyncEvents } from "./sync-events";
import type { GroupPolicy } from "./write-policy";

/**
 * Writes a pass's plan: EVENTUAL puts and deletes as change sets (one atomic batch each), STRONG
 * puts through one prepare round, each entry with its provenance and write policy, then the
 * `config.written` / prepare events.
 */
export class ChangeSetWriter {
  constructor(
    private readonly store: ConfigStore,
    private readonly options: GroupSyncOptions,
    private readonly logger: Logger,
    private readonly paths?: WritePaths,
  ) {}

  async write(
    group: string,
    scan: GroupScan | undefined,
    plan: GroupPlan<Candidate>,
    current: Map<string, CurrentEntry>,
    result: GroupSyncResult,
    git: GitInfo | undefined,
  ): Promise<void> {
    const policy = await this.paths?.policies.resolve(group, scan?.realDir, plan.puts);
    const isStrong = (c: Candidate): boolean => policy?.of(c.key).consistency === "strong";
    const strong = plan.puts.filter(isStrong);
    const changes: (Candidate | string)[] = [
      ...plan.puts.filter((c) => !isStrong(c)),
      ...plan.deletes,
    ];
    if (strong.length > 0 && policy) {
      await this.writeStrong(group, strong, policy, current, result, git);
    }
    if (changes.length === 0) return;
    const parts = splitChangeSet(randomUUID(), changes);
    if (parts.length > 1) {
      this.logger.warn(
        `group ${group}: ${changes.length} changes exceed one atomic batch; written as ${parts.length} change sets`,
      );
    }
    for (const part of parts) {
      const atMs = Date.now();
      const messages: ChangeMessage[] = part.messages.map((c) =>
        typeof c === "string"
          ? { key: c }
          : {
              key: c.key,
              entry: this.entry(c, git, part.id, part.messages.length, atMs, policy, current),
            },
      );
      const stored = await this.store.write(group, part.id, messages);
      const puts = messages.filter((m) => m.entry).map((m) => m.key);
      const deletes = messages.filter((m) => !m.entry).map((m) => m.key);
      result.changeSets.push({ ...stored, puts, deletes });
      this.logger.info(
        `group ${group}: change set ${stored.id}: ${puts.length} published, ${deletes.length} deleted ` +
          `(revisions ${stored.firstRevision}-${stored.lastRevision}${stored.atomic ? ", one atomic batch" : ""})`,
      );
      const events = part.messages.map((c, i) =>
        writtenEvent({
          group,
          key: typeof c === "string" ? c : c.key,
          deleted: typeof c === "string",
          revision: stored.firstRevision + i,
          sha256: typeof c === "string" ? (current.get(c)?.sha256 ?? "") : c.sha256,
          changeSetId: stored.id,
          sourcePath: typeof c === "string" ? "" : c.file.sourcePath,
          atMs,
        }),
      );
      await publishSyncEvents(this.store, this.logger, group, events, result);
    }
  }

  private entry(
    c: Candidate,
    git: GitInfo | undefined,
    changeSetId: string,
    changeSetSize: number,
    atMs: number,
    policy: GroupPolicy | undefined,
    current: ReadonlyMap<string, { revision: number }>,
  ): ConfigEntryInit {
    const p = policy?.of(c.key);
    return buildEntry({
      key: c.key,
      config: c.config,
      sourcePath: c.file.sourcePath,
      git: gitFieldsFor(git, c.file.realPath, c.file.links),
      changeSetId,
      changeSetSize,
      atMs,
      schemas: c.schemas,
      publishedBy: p?.author ?? this.options.loaderId,
      strong: p?.consistency === "strong",
      activateAtMs: p?.activateAtMs ?? 0,
      previousRevision: current.get(c.key)?.revision ?? 0,
    });
  }

  /**
   * STRONG puts of a pass: one prepare round for all of them, then one change set (commit) or
   * nothing (abort, announced per key). Keys whose same content aborted lately wait.
   */
  private async writeStrong(
    group: string,
    candidates: Candidate[],
    policy: GroupPolicy,
    current: Map<string, CurrentEntry>,
    result: GroupSyncResult,
    git: GitInfo | undefined,
  ): Promise<void> {
    const strong = this.paths!.strong;
    const due = strong.due(group, candidates);
    if (due.length === 0) return;
    const id = randomUUID();
    const atMs = Date.now();
    const entries = due.map((c) => this.entry(c, git, id, due.length, atMs, policy, current));
    const r = await strong.write(group, id, entries, policy.settings.prepareTimeoutMs);
    const keys = due.map((c) => c.key);
    if (r.stored) {
      result.changeSets.push({ ...r.stored, puts: keys, deletes: [] });
      this.logger.info(
        `group ${group}: change set ${r.stored.id}: ${keys.length} published after prepare ` +
          `${r.outcome.prepareId} (revisions ${r.stored.firstRevision}-${r.stored.lastRevision})`,
      );
    } else {
      const reason = r.events[0]?.error?.reason ?? "aborted";
      (result.aborted ??= []).push({ prepareId: r.outcome.prepareId, keys, reason });
    }
    await publishSyncEvents(this.store, this.logger, group, r.events, result);
  }
}
