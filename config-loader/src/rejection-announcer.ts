import type { ConfigEventInit } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { rejectedEvent } from "./config-events";
import type { ConfigStore, CurrentEntry } from "./config-store";
import type { Rejection } from "./file-evaluator";
import type { GroupSyncResult } from "./group-sync-result";
import type { RejectionLog } from "./rejection-log";
import { publishSyncEvents } from "./sync-events";

/**
 * Reports a pass's refused files: logged the first time a content is refused, listed in the
 * result every pass, and one `config.rejected` event per distinct bad content (marked announced
 * only once the event is stored, so a failed publish is retried next pass).
 */
export class RejectionAnnouncer {
  constructor(
    private readonly store: ConfigStore,
    private readonly rejections: RejectionLog,
    private readonly logger: Logger,
  ) {}

  async announce(
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
      (await publishSyncEvents(
        this.store,
        this.logger,
        group,
        pending.map((p) => p.event),
        result,
      ))
    ) {
      for (const p of pending) log.markAnnounced(p.r.file.sourcePath, p.r.fingerprint);
    }
    log.settle(group, new Set(rejections.map((r) => r.file.sourcePath)));
  }
}
