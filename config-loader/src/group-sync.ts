import { randomUUID } from "node:crypto";
import type { ConfigEntryInit, ConfigEventInit } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { readGroupFiles } from "@konorkestra/sdk/internal";
import type {
  GroupScan,
  ReadCache,
  ParsedConfig,
  ScannedFile,
  SourceProblem,
} from "@konorkestra/sdk/internal";
import { rejectedEvent, writtenEvent } from "./config-events";
import { buildEntry } from "./entry-builder";
import type {
  ChangeMessage,
  ConfigStore,
  CurrentEntry,
  RegisteredSchema,
  SchemaSource,
} from "./config-store";
import { gitFieldsFor, readGitInfo, readHead } from "./git-info";
import type { GitInfo } from "./git-info";
import { planGroup, splitChangeSet } from "./reconciler";
import type { GroupPlan } from "./reconciler";
import type { RejectionLog } from "./rejection-log";
import { inChunks } from "./in-chunks";
import { locateValue } from "./value-locator";
import type { StrongWriter } from "./strong-writer";
import type { GroupPolicy, WritePolicies } from "./write-policy";

/** What a group synchronizer needs to know. */
export interface GroupSyncOptions {
  maxValueBytes: number;
  keepDeleted: boolean;
  loaderId: string;
  git: boolean;
}

/** A change set as written. */
export interface ChangeSetReport {
  id: string;
  size: number;
  firstRevision: number;
  lastRevision: number;
  atomic: boolean;
  puts: string[];
  deletes: string[];
}

/** A file that was not published, and why. */
export interface RejectedFile {
  sourcePath: string;
  /** "" when the path names no valid key. */
  key: string;
  code: SourceProblem["code"];
  reason: string;
  line: number;
  column: number;
  valuePath?: string;
  /** First time this content was refused (logged and announced now). */
  firstSeen: boolean;
}

/** Outcome of one pass over a group. */
export interface GroupSyncResult {
  group: string;
  filesScanned: number;
  changeSets: ChangeSetReport[];
  rejected: RejectedFile[];
  unchanged: number;
  /** Keys without a file left in place (KON_KEEP_DELETED or an incomplete scan). */
  kept: string[];
  /** Events that could not be published (the KV writes stand). */
  eventErrors: number;
  /** STRONG writes abandoned in this pass (nothing written for these keys). */
  aborted?: { prepareId: string; keys: string[]; reason: string }[];
}

/** Per-write policies (intents, folder settings) and the STRONG path; without them all is EVENTUAL. */
export interface WritePaths {
  policies: WritePolicies;
  strong: StrongWriter;
}

interface Candidate {
  key: string;
  sha256: string;
  file: ScannedFile;
  config: ParsedConfig;
  /** Every live schema of the key; the value met all of them. */
  schemas: RegisteredSchema[];
}

interface Rejection {
  file: ScannedFile;
  key: string;
  problem: SourceProblem;
  fingerprint: string;
}

interface Evaluation {
  candidates: Candidate[];
  rejections: Rejection[];
  protectedKeys: Set<string>;
}

/** Room for a ConfigEntry's fields other than the payload (ids, paths, git author). */
const ENTRY_OVERHEAD = 2048;

/**
 * One pass over one group: read and validate every file, diff against the bucket, write the
 * difference as change sets, announce what was written and what was refused. A bad file never
 * stops the others: it is rejected alone and its key keeps its previous value (as git2consul and
 * Apollo do per file), so one team's typo does not hold back another's change.
 */
export class GroupSynchronizer {
  /** Per group, the HEAD commit whose provenance was last applied. */
  private readonly headSeen = new Map<string, string>();

  constructor(
    private readonly store: ConfigStore,
    private readonly schemas: SchemaSource,
    private readonly rejections: RejectionLog,
    private readonly options: GroupSyncOptions,
    private readonly logger: Logger,
    /** Parses of unchanged files are taken from here; without it every file is parsed. */
    private readonly cache?: ReadCache,
    private readonly paths?: WritePaths,
  ) {}

  /** `scan` undefined means the group folder is gone: its keys go too (unless kept). */
  async sync(group: string, scan: GroupScan | undefined): Promise<GroupSyncResult> {
    const files = scan?.files ?? [];
    await this.schemas.refresh?.();
    const ev = await this.evaluate(group, files);
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
    await this.write(group, scan, plan, current, result, git);
    await this.announce(group, ev.rejections, current, result);
    return result;
  }

  /** The config-file rules (shared with the SDK's `file:` source), then schema and size. */
  private async evaluate(group: string, files: ScannedFile[]): Promise<Evaluation> {
    const ev: Evaluation = { candidates: [], rejections: [], protectedKeys: new Set() };
    const reject = (
      file: ScannedFile,
      key: string,
      problem: SourceProblem,
      fingerprint: string,
    ): void => {
      if (key) ev.protectedKeys.add(key);
      ev.rejections.push({ file, key, problem, fingerprint });
    };
    const readings = await readGroupFiles(files, this.options.maxValueBytes, this.cache);
    await inChunks(readings, 32, async (r) => {
      if (r.kind === "refused") return reject(r.file, r.key, r.problem, r.fingerprint);
      if (r.kind === "vanished") {
        ev.protectedKeys.add(r.key);
        return;
      }
      const outcome = await this.check(group, r.file, r.key, r.config);
      if ("problem" in outcome) return reject(r.file, r.key, outcome.problem, outcome.fingerprint);
      ev.candidates.push(outcome);
    });
    return ev;
  }

  /** A parsed file against its key's registered schema and NATS max_payload. */
  private async check(
    group: string,
    f: ScannedFile,
    key: string,
    config: ParsedConfig,
  ): Promise<{ problem: SourceProblem; fingerprint: string } | Candidate> {
    const fingerprint = config.sha256;
    const schemas = await this.schemas.get(group, key);
    const refusals = schemas
      .map((schema) => ({ schema, violations: schema.validate(config.value) }))
      .filter((r) => r.violations.length > 0);
    if (refusals.length > 0) {
      const first = refusals[0]!.violations[0]!;
      // With several live schemas (services, versions) say which of them refused.
      const which = (s: RegisteredSchema): string =>
        schemas.length > 1
          ? `${s.service || "a service"} (schema ${s.id.slice(0, 12)})`
          : s.service || "its service";
      const reason = refusals
        .map(
          ({ schema, violations }) =>
            `does not match the schema registered by ${which(schema)}: ` +
            violations
              .slice(0, 5)
              .map((v) => `${v.path || "/"} ${v.message}`)
              .join("; "),
        )
        .join("; and ");
      const pos = locateValue(config.text, first.path);
      const problem: SourceProblem = { code: "schema", reason, ...pos, valuePath: first.path };
      const ids = refusals.map((r) => r.schema.id).join(",");
      return { problem, fingerprint: `${fingerprint}:${ids}` };
    }
    const room = this.store.maxPayload() - ENTRY_OVERHEAD - f.sourcePath.length - key.length;
    if (config.payload.length > room) {
      const reason = `value is ${config.payload.length} bytes; NATS max_payload leaves room for ${room}`;
      return { problem: { code: "size", reason, line: 0, column: 0 }, fingerprint };
    }
    return { key, sha256: config.sha256, file: f, config, schemas };
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
    const proven = unproven.filter((c) => gitFieldsFor(git, c.file.realPath).gitCommit !== "");
    if (proven.length > 0) {
      plan.puts = [...plan.puts, ...proven].sort((a, b) => (a.key < b.key ? -1 : 1));
      plan.unchanged -= proven.length;
    }
    return git;
  }

  private async write(
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
      await this.publishEvents(group, events, result);
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
      git: gitFieldsFor(git, c.file.realPath),
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
    await this.publishEvents(group, r.events, result);
  }

  private async announce(
    group: string,
    rejections: Rejection[],
    current: ReadonlyMap<string, CurrentEntry>,
    result: GroupSyncResult,
  ): Promise<void> {
    const log = this.rejections;
    const pending: { r: Rejection; event: ConfigEventInit }[] = [];
    for (const r of rejections.sort((a, b) => a.file.sourcePath.localeCompare(b.file.sourcePath))) {
      const { sourcePath } = r.file;
      const firstSeen = log.firstLog(sourcePath, r.fingerprint);
      if (firstSeen) {
        const { line, column, reason, code } = r.problem;
        const kept = r.key ? `; key ${r.key} keeps its previous value` : "";
        this.logger.warn(`rejected ${sourcePath}:${line}:${column}: ${reason} [${code}]${kept}`);
      }
      result.rejected.push({ sourcePath, key: r.key, ...r.problem, firstSeen });
      if (log.needsEvent(sourcePath, r.fingerprint)) {
        const event = rejectedEvent({
          group,
          key: r.key,
          sourcePath,
          fingerprint: r.fingerprint,
          currentRevision: current.get(r.key)?.revision ?? 0,
          problem: r.problem,
          atMs: Date.now(),
        });
        pending.push({ r, event });
      }
    }
    if (
      pending.length > 0 &&
      (await this.publishEvents(
        group,
        pending.map((p) => p.event),
        result,
      ))
    ) {
      for (const p of pending) log.markAnnounced(p.r.file.sourcePath, p.r.fingerprint);
    }
    log.settle(group, new Set(rejections.map((r) => r.file.sourcePath)));
  }

  /** True when stored; a failure is counted and logged, never thrown (the KV write is the record). */
  private async publishEvents(
    group: string,
    events: ConfigEventInit[],
    result: GroupSyncResult,
  ): Promise<boolean> {
    try {
      await this.store.publishEvents(group, events);
      return true;
    } catch (err) {
      result.eventErrors += events.length;
      this.logger.warn(
        `group ${group}: could not publish ${events.length} config event(s): ${String(err)}`,
      );
      return false;
    }
  }
}
