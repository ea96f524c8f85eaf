import { randomUUID } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import { parseConfigBytes, schemaViolations } from "@konorkestra/sdk/internal";
import type { WriteIntentRecord } from "@konorkestra/sdk/internal";
import { AdminError, AdminErrorCode } from "../domain/admin-error";
import type { ConfigBuckets } from "./config-buckets";
import { intentBytes, valueFileBytes } from "./config-folder";
import type { ConfigFolder } from "./config-folder";
import { HeadMovedError } from "./git-repo";
import type { FileChange, GitRepo } from "./git-repo";
import { GroupLock } from "./group-lock";
import { OutcomeWatch } from "./outcome-watch";
import type { KeyOutcome, RefusingNode } from "./outcome-watch";

/** One item of a `_create` / `_update` body, after input validation. */
export interface WriteItem {
  module: string;
  configs: Record<string, unknown>;
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
  private readonly now: () => number;

  constructor(private readonly d: ConfigWriterDeps) {
    this.now = d.now ?? Date.now;
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

  private async writeLocked(
    repo: GitRepo,
    group: string,
    mode: WriteMode,
    items: WriteItem[],
    author: string,
  ): Promise<WriteResult> {
    const plans: Planned[] = [];
    for (const it of items) plans.push(await this.plan(repo, group, mode, it));
    await this.checkSchemas(group, plans);
    const changeId = randomUUID();
    const writes = plans.filter((p) => p.status === "write");
    if (writes.length === 0) {
      return { commit: null, change_id: changeId, results: plans.map((p) => restResult(p)) };
    }
    const kv = await this.d.buckets.kv(group);
    const watch = new OutcomeWatch(this.d.nc, this.d.buckets.names, group, kv, this.now());
    try {
      const commit = await this.commitAndWrite(repo, group, mode, writes, author, changeId);
      const outcomes = await watch.wait(
        writes.map((p) => ({
          key: p.item.module,
          sha256: p.sha256,
          sourcePath: sourcePath(this.d.folder, p),
        })),
        this.d.waitMs,
      );
      const failed = outcomes.filter((o) => o.kind === "rejected" || o.kind === "aborted");
      if (failed.length > 0) await this.revert(repo, group, writes, failed);
      return {
        commit,
        change_id: changeId,
        results: plans.map((p) => resultOf(p, outcomes, commit)),
      };
    } finally {
      watch.close();
    }
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
    const current = await this.d.buckets.current(group, item.module);
    const currentRevision = current?.revision ?? 0;
    if (item.expected_revision !== undefined && item.expected_revision !== currentRevision) {
      throw new AdminError(
        AdminErrorCode.Conflict,
        `${item.module} is at revision ${currentRevision}, not ${item.expected_revision}`,
        {
          module: item.module,
          expected_revision: item.expected_revision,
          current_revision: currentRevision,
        },
      );
    }
    const base = {
      item,
      abs: file.abs,
      rel: repo.relPath(file.abs),
      previous: file.bytes,
      bytes,
      currentRevision,
    };
    const sha256 = parsed.config.sha256;
    if (file.bytes !== undefined && mode === "create")
      return { ...base, sha256, status: "skipped" };
    if (file.bytes === undefined && mode === "update") {
      throw new AdminError(
        AdminErrorCode.NotFound,
        `no config ${item.module} in this group; use _create`,
        {
          module: item.module,
        },
      );
    }
    const before =
      file.bytes &&
      parseConfigBytes(file.bytes, file.abs.endsWith(".json") ? "json" : "yaml", Infinity);
    if (before?.ok && before.config.sha256 === sha256)
      return { ...base, sha256, status: "unchanged" };
    return { ...base, sha256, status: "write" };
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

  private async commitAndWrite(
    repo: GitRepo,
    group: string,
    mode: WriteMode,
    writes: Planned[],
    author: string,
    changeId: string,
  ): Promise<string> {
    const intents = writes.map((p) => {
      const intent: WriteIntentRecord = {
        sha256: p.sha256,
        ...(p.item.consistency ? { consistency: p.item.consistency } : {}),
        ...(p.item.activate_at_ms !== undefined ? { activate_at_ms: p.item.activate_at_ms } : {}),
        change_id: changeId,
        author,
        requested_at_ms: this.now(),
      };
      const abs = this.d.folder.intentPath(group, p.item.module);
      return { abs, rel: repo.relPath(abs), bytes: intentBytes(intent) };
    });
    const changes: FileChange[] = [
      ...intents.map((i) => ({ path: i.rel, bytes: i.bytes })),
      ...writes.map((p) => ({ path: p.rel, bytes: p.bytes })),
    ];
    const keys = writes.map((p) => p.item.module).join(", ");
    const message = `kon ${mode} ${group}: ${keys}\n\nKon-Change-Id: ${changeId}\n`;
    let commit: string;
    try {
      commit = await repo.commit(changes, author, message);
    } catch (err) {
      if (!(err instanceof HeadMovedError)) throw err;
      throw new AdminError(
        AdminErrorCode.Conflict,
        "another writer committed to the folder meanwhile; retry",
        {
          group,
        },
      );
    }
    // Intents first: when the loader sees a value file, its intent is already there.
    for (const i of intents) await this.d.folder.writeAtomic(i.abs, i.bytes);
    for (const p of writes) await this.d.folder.writeAtomic(p.abs, p.bytes);
    return commit;
  }

  /** Puts refused or abandoned keys back as they were, so that folder and bucket agree. */
  private async revert(
    repo: GitRepo,
    group: string,
    writes: Planned[],
    failed: KeyOutcome[],
  ): Promise<void> {
    const back = writes.filter((p) => failed.some((f) => f.key === p.item.module));
    const changes: FileChange[] = back.flatMap((p) => {
      const intent = this.d.folder.intentPath(group, p.item.module);
      return [
        { path: p.rel, bytes: p.previous ?? null },
        { path: repo.relPath(intent), bytes: null },
      ];
    });
    const why = failed.map((f) => `${f.key}: ${f.kind}`).join("; ");
    try {
      await repo.commit(
        changes,
        "Konorkestra admin API <kon-admin@localhost>",
        `kon revert ${group}: ${why}\n`,
      );
      for (const p of back) {
        await this.d.folder.remove(this.d.folder.intentPath(group, p.item.module));
        if (p.previous) await this.d.folder.writeAtomic(p.abs, p.previous);
        else await this.d.folder.remove(p.abs);
      }
    } catch (err) {
      this.d.logger.error(`cannot revert ${group} after ${why}: ${(err as Error).message}`);
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
    default:
      return { ...base, status: o.kind, reason: o.reason, nodes: o.nodes };
  }
}
