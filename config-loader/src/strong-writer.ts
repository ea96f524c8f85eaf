import type { ConfigEntryInit, ConfigEventInit } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { abortedEvent, prepareFailedEvent, writtenEvent } from "./config-events";
import type { ConfigStore, StoredChangeSet } from "./config-store";
import { describeFailures } from "./prepare-coordinator";
import type { PrepareOutcome, Preparer } from "./prepare-coordinator";

/** What a STRONG write came to: committed (`stored`) or aborted, and the events to publish. */
export interface StrongResult {
  outcome: PrepareOutcome;
  stored?: StoredChangeSet;
  /** PUBLISHED per key on a commit; ABORTED per key and PREPARE_FAILED per failing node and key. */
  events: ConfigEventInit[];
}

/** Time an aborted content waits before the loader prepares it again. @default 60 s */
const RETRY_ABORTED_MS = 60_000;

/**
 * Prepare, then commit: the candidates are written (one change set, as any other) only when
 * every expected node agreed; otherwise nothing is written and the abort is announced. The same
 * content is not prepared again for a minute after an abort (the folder keeps it until someone
 * reverts or fixes it; a retry each pass would flood the nodes), and never again by this process
 * once it committed.
 */
export class StrongWriter {
  private readonly aborted = new Map<string, { sha256: string; atMs: number }>();

  constructor(
    private readonly store: ConfigStore,
    private readonly preparer: () => Preparer | undefined,
    private readonly logger: Logger,
    private readonly retryMs = RETRY_ABORTED_MS,
  ) {}

  /** The candidates to prepare now: not the same content aborted within the retry delay. */
  due<T extends { key: string; sha256: string }>(group: string, candidates: T[]): T[] {
    const now = Date.now();
    return candidates.filter((c) => {
      const a = this.aborted.get(`${group}/${c.key}`);
      return !a || a.sha256 !== c.sha256 || now - a.atMs >= this.retryMs;
    });
  }

  async write(
    group: string,
    changeSetId: string,
    entries: ConfigEntryInit[],
    timeoutMs: number,
  ): Promise<StrongResult> {
    const preparer = this.preparer();
    if (!preparer) throw new Error("no NATS connection for the prepare round");
    const outcome = await preparer.prepare(group, entries, timeoutMs);
    if (outcome.ok) {
      for (const e of entries) {
        e.prepareId = outcome.prepareId;
        this.aborted.delete(`${group}/${e.key ?? ""}`);
      }
      const stored = await this.store.write(
        group,
        changeSetId,
        entries.map((entry) => ({ key: entry.key ?? "", entry })),
      );
      const events = entries.map((e, i) =>
        writtenEvent({
          group,
          key: e.key ?? "",
          deleted: false,
          revision: stored.firstRevision + i,
          sha256: e.sha256 ?? "",
          changeSetId: stored.id,
          sourcePath: e.sourcePath ?? "",
          atMs: Date.now(),
        }),
      );
      return { outcome, stored, events };
    }
    const atMs = Date.now();
    const reason = `strong write aborted: ${describeFailures(outcome)}; nothing changed`;
    const events: ConfigEventInit[] = [];
    for (const e of entries) {
      const key = e.key ?? "";
      this.aborted.set(`${group}/${key}`, { sha256: e.sha256 ?? "", atMs });
      const sourcePath = e.sourcePath ?? "";
      events.push(
        abortedEvent({
          group,
          key,
          sha256: e.sha256 ?? "",
          sourcePath,
          prepareId: outcome.prepareId,
          reason,
          atMs,
        }),
      );
      for (const r of outcome.refused) {
        events.push(
          prepareFailedEvent({
            group,
            key,
            node: r.node,
            prepareId: outcome.prepareId,
            error: r.error,
            atMs,
          }),
        );
      }
      for (const node of outcome.timedOut) {
        const error = { file: sourcePath, reason: "no vote within the timeout", code: "timeout" };
        events.push(
          prepareFailedEvent({ group, key, node, prepareId: outcome.prepareId, error, atMs }),
        );
      }
    }
    this.logger.warn(`group ${group}: ${entries.map((e) => e.key).join(", ")}: ${reason}`);
    return { outcome, events };
  }
}
