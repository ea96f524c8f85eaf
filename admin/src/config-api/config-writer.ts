import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import { parseConfigBytes, schemaViolations } from "@konorkestra/sdk/internal";
import { AdminError, AdminErrorCode } from "../domain/admin-error";
import type { ConfigBuckets } from "./config-buckets";
import { valueFileBytes } from "./config-folder";
import type { ConfigFolder } from "./config-folder";
import { FolderCommit } from "./folder-commit";
import type { KeyWrite } from "./folder-commit";
import { HeadMovedError } from "./git-repo";
import type { GitRepo } from "./git-repo";
import { GroupLock } from "./group-lock";
import { OutcomeWatch } from "./outcome-watch";
import type { KeyOutcome, RefusingNode } from "./outcome-watch";

/** One item of a `_create` / `_update` body, after input validation. */
export interface WriteItem {
  module: string;
  /** Any JSON value (docs/wire-contract.md §3.1). */
  configs: unknown;
  expected_revision?: number;
  consistency?: "eventual" | "strong";
  /** ms since the epoch. */
  activate_at_ms?: number;
}

export type WriteMode = "create" | "update" | "rollback";

export type ItemStatus =
  "created" | "updated" | "skipped" | "unchanged" | "pending" | "rejected" | "aborted";

/** What became of one item. */
export interface ItemResult {
  module: string;
  status: ItemStatus;
  sha256: string;
  revision?: number;
  commit?: string;
  reason?: string;
  nodes?: RefusingNode[];
  /** The later commit that replaced this write's content before the loader published it. */
  superseded_by?: string;
}

export interface WriteResult {
  /** The API's commit; null when nothing needed writing. */
  commit: string | null;
  change_id: string;
  results: ItemResult[];
}

export interface ConfigWriterDeps {
  nc: NatsConnection;
  buckets: ConfigBuckets;
  folder: ConfigFolder;
  repo: () => Promise<GitRepo>;
  groupExists: (group: string) => Promise<boolean>;
  /** "Name <email>" of an admin id (the commit author). */
  authorOf: (adminId: string) => Promise<string>;
  waitMs: number;
  horizonMs: number;
  maxValueBytes: number;
  logger: Logger;
  now?: () => number;
}

/** Plans made on a branch another writer then moved are made again, up to this many times. */
const MAX_COMMIT_TRIES = 8;

/** An item checked and ready to commit. */
interface Planned {
  item: WriteItem;
  abs: string;
  rel: string;
  previous: Buffer | undefined;
  bytes: Buffer;
  sha256: string;
  status: "write" | "skipped" | "unchanged";
  currentRevision: number;
}

/**
 * The one publishing path of the config API: check every value (canonical JSON, registered
 * schemas, compare-and-set on the revision, activation horizon) before anything is written; then
 * one commit of the files and their write intents with the admin as author; then wait for the
 * loader's outcome, and put a refused or abandoned key's file back with a revert commit.
 */
export class ConfigWriter {
  private readonly lock = new GroupLock();
  private readonly commits: FolderCommit;
  private readonly now: () => number;

  constructor(private readonly d: ConfigWriterDeps) {
    this.now = d.now ?? Date.now;
    this.commits = new FolderCommit(d.folder, d.logger);
  }

  async write(
    group: string,
    mode: WriteMode,
    items: WriteItem[],
    adminId: string,
  ): Promise<WriteResult> {
    if (!(await this.d.groupExists(group))) {
      throw new AdminError(AdminErrorCode.NotFound, "no such group");
    }
    const repo = await this.d.repo();
    const groupDir = await this.d.folder.realGroupDir(group);
    const mirror = await repo.mirrorReason(groupDir);
    if (mirror) {
      throw new AdminError(
        AdminErrorCode.Conflict,
        "this folder mirrors a remote; push to the remote instead",
        { group, mirror },
      );
    }
    for (const it of items) this.checkActivation(it);
    const author = await this.d.authorOf(adminId);
    return this.lock.run(group, () => this.writeLocked(repo, group, mode, items, author));
  }

  /**
   * Plans on the branch's HEAD and commits on exactly that HEAD. When another writer (an admin
   * instance on the same folder, a person) moved the branch in between, the whole request is
   * planned again on the new HEAD: a write without `expected_revision` then lands on top (last
   * writer wins, both in history); one with it is refused by the re-plan if the key changed.
   */
  private async writeLocked(
    repo: GitRepo,
    group: string,
    mode: WriteMode,
    items: WriteItem[],
    author: string,
  ): Promise<WriteResult> {
    for (let attempt = 1; ; attempt++) {
      const parent = (await repo.head()) ?? null;
      const plans: Planned[] = [];
      for (const it of items) plans.push(await this.plan(repo, group, mode, it, parent));
      await this.checkSchemas(group, plans);
      const changeId = randomUUID();
      const writes = plans.filter((p) => p.status === "write");
      if (writes.length === 0) {
        return { commit: null, change_id: changeId, results: plans.map((p) => restResult(p)) };
      }
      const keyWrites = writes.map((p) => this.keyWrite(p, author, changeId));
      const keys = writes.map((p) => p.item.module).join(", ");
      const message = `kon ${mode} ${group}: ${keys}\n\nKon-Change-Id: ${changeId}\n`;
      const kv = await this.d.buckets.kv(group);
      const watch = new OutcomeWatch(this.d.nc, this.d.buckets.names, group, kv, this.now());
      try {
        let commit: string;
        try {
          commit = await this.commits.commit(repo, group, keyWrites, author, message, parent);
        } catch (err) {
          if (!(err instanceof HeadMovedError)) throw err;
          this.d.logger.info(
            `${group}: the folder's branch moved under a write (try ${attempt}); planning it again`,
          );
          if (attempt < MAX_COMMIT_TRIES) continue;
          throw new AdminError(
            AdminErrorCode.Conflict,
            `other writers kept moving the folder's branch (${attempt} tries); retry`,
            { group },
          );
        }
        return await this.outcome(repo, group, plans, keyWrites, commit, changeId, watch);
      } finally {
        watch.close();
      }
    }
  }

  /** Waits for the loader's verdict on each written key; puts refused or abandoned ones back. */
  private async outcome(
    repo: GitRepo,
    group: string,
    plans: Planned[],
    keyWrites: KeyWrite[],
    commit: string,
    changeId: string,
    watch: OutcomeWatch,
  ): Promise<WriteResult> {
    const supersededBy = this.commits.supersededCheck(repo, commit, keyWrites);
    const outcomes = await watch.wait(
      plans
        .filter((p) => p.status === "write")
        .map((p) => ({
          key: p.item.module,
          sha256: p.sha256,
          sourcePath: sourcePath(this.d.folder, p),
        })),
      this.d.waitMs,
      (a) => supersededBy(a.key),
    );
    const failed = outcomes.filter((o) => o.kind === "rejected" || o.kind === "aborted");
    if (failed.length > 0) {
      const why = failed.map((f) => `${f.key}: ${f.kind}`).join("; ");
      const back = keyWrites.filter((w) => failed.some((f) => f.key === w.key));
      await this.commits.revert(repo, group, commit, back, why);
    }
    return {
      commit,
      change_id: changeId,
      results: plans.map((p) => resultOf(p, outcomes, commit)),
    };
  }

  private keyWrite(p: Planned, author: string, changeId: string): KeyWrite {
    return {
      key: p.item.module,
      rel: p.rel,
      bytes: p.bytes,
      intent: {
        sha256: p.sha256,
        ...(p.item.consistency ? { consistency: p.item.consistency } : {}),
        ...(p.item.activate_at_ms !== undefined ? { activate_at_ms: p.item.activate_at_ms } : {}),
        change_id: changeId,
        author,
        requested_at_ms: this.now(),
      },
    };
  }

  /** Refuses an activation instant in the past or beyond the horizon. */
  private checkActivation(it: WriteItem): void {
    if (it.activate_at_ms === undefined) return;
    const now = this.now();
    const at = new Date(it.activate_at_ms).toISOString();
    if (it.activate_at_ms <= now) {
      throw new AdminError(
        AdminErrorCode.InvalidInput,
        `activate_at ${at} of ${it.module} is in the past`,
        {
          module: it.module,
          field: "activate_at",
        },
      );
    }
    if (it.activate_at_ms > now + this.d.horizonMs) {
      throw new AdminError(
        AdminErrorCode.InvalidInput,
        `activate_at ${at} of ${it.module} is more than ${this.d.horizonMs} ms ahead (the horizon)`,
        { module: it.module, field: "activate_at", horizonMs: this.d.horizonMs },
      );
    }
  }

  private async plan(
    repo: GitRepo,
    group: string,
    mode: WriteMode,
    item: WriteItem,
    parent: string | null,
  ): Promise<Planned> {
    const file = await this.d.folder.keyFile(group, item.module);
    const bytes = valueFileBytes(item.configs);
    const parsed = parseConfigBytes(bytes, "json", this.d.maxValueBytes);
    if (!parsed.ok) {
      throw new AdminError(
        AdminErrorCode.InvalidInput,
        `${item.module}: ${parsed.problem.reason}`,
        {
          module: item.module,
          code: parsed.problem.code,
        },
      );
    }
    const rel = repo.relPath(file.abs);
    // What the commit is built on: the file at `parent`, else (never committed) the work tree's.
    const previous = (parent === null ? undefined : await repo.show(parent, rel)) ?? file.bytes;
    const before =
      previous &&
      parseConfigBytes(previous, file.abs.endsWith(".json") ? "json" : "yaml", Infinity);
    const current = await this.d.buckets.current(group, item.module);
    const currentRevision = current?.revision ?? 0;
    if (item.expected_revision !== undefined) {
      this.checkExpected(item, currentRevision, current?.entry.sha256, before);
    }
    const base = { item, abs: file.abs, rel, previous, bytes, currentRevision };
    const sha256 = parsed.config.sha256;
    if (previous !== undefined && mode === "create") return { ...base, sha256, status: "skipped" };
    if (previous === undefined && mode === "update") {
      throw new AdminError(
        AdminErrorCode.NotFound,
        `no config ${item.module} in this group; use _create`,
        { module: item.module },
      );
    }
    if (before?.ok && before.config.sha256 === sha256)
      return { ...base, sha256, status: "unchanged" };
    return { ...base, sha256, status: "write" };
  }

  /**
   * Compare-and-set on the key's revision. The bucket's revision alone is not enough with several
   * writers: a commit the loader has not published yet leaves the revision as it was, so the
   * folder's content at the commit this write builds on must also be the bucket's.
   */
  private checkExpected(
    item: WriteItem,
    currentRevision: number,
    currentSha: string | undefined,
    before: ReturnType<typeof parseConfigBytes> | undefined,
  ): void {
    const details = {
      module: item.module,
      expected_revision: item.expected_revision,
      current_revision: currentRevision,
    };
    if (item.expected_revision !== currentRevision) {
      throw new AdminError(
        AdminErrorCode.Conflict,
        `${item.module} is at revision ${currentRevision}, not ${item.expected_revision}`,
        details,
      );
    }
    const folderSha = before === undefined ? undefined : before.ok ? before.config.sha256 : "";
    if (folderSha !== currentSha) {
      throw new AdminError(
        AdminErrorCode.Conflict,
        `${item.module} has a committed change the loader has not published (or refused); retry once it is`,
        { ...details, unpublished: true },
      );
    }
  }

  /** Every value against its key's registered schemas; one refusal refuses the whole request. */
  private async checkSchemas(group: string, plans: Planned[]): Promise<void> {
    const refused: Record<string, unknown>[] = [];
    for (const p of plans.filter((x) => x.status === "write")) {
      const records = await this.d.buckets.schemasFor(group, p.item.module);
      const { violations, unreadable } = schemaViolations(records, p.item.configs);
      for (const u of unreadable)
        this.d.logger.warn(`schema of ${group}.${p.item.module} skipped: ${u}`);
      for (const v of violations) refused.push({ module: p.item.module, ...v });
    }
    if (refused.length > 0) {
      const first = refused[0]!;
      throw new AdminError(
        AdminErrorCode.Unprocessable,
        `${String(first.module)}: ${String(first.path) || "/"} ${String(first.message)} (schema of ${String(first.service)}); nothing was written`,
        { violations: refused.slice(0, 50) },
      );
    }
  }
}

function sourcePath(folder: ConfigFolder, p: Planned): string {
  const rel = p.abs.slice(folder.root.length + 1);
  return rel.split("\\").join("/");
}

function restResult(p: Planned): ItemResult {
  return {
    module: p.item.module,
    status: p.status === "skipped" ? "skipped" : "unchanged",
    sha256: p.sha256,
    ...(p.currentRevision ? { revision: p.currentRevision } : {}),
  };
}

function resultOf(p: Planned, outcomes: KeyOutcome[], commit: string): ItemResult {
  if (p.status !== "write") return restResult(p);
  const o = outcomes.find((x) => x.key === p.item.module)!;
  const base = { module: p.item.module, sha256: p.sha256, commit };
  switch (o.kind) {
    case "published":
      return { ...base, status: p.previous ? "updated" : "created", revision: o.revision };
    case "pending":
      return { ...base, status: "pending" };
    case "superseded":
      // Committed (it is in the folder's history), then replaced by a later commit before the
      // loader published it: an accepted write whose value is no longer the newest.
      return {
        ...base,
        status: p.previous ? "updated" : "created",
        superseded_by: o.by,
        reason: `superseded by commit ${o.by} before the loader published it`,
      };
    default:
      return { ...base, status: o.kind, reason: o.reason, nodes: o.nodes };
  }
}
