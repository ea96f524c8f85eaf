import type { Logger } from "../logger";
import type { ChangeBatch, RawChange } from "./raw-change";

/**
 * Groups live changes into change sets. The loader writes a set of n > 1 messages as one atomic
 * batch, so its messages are contiguous in the stream: the set is complete after n of them. A
 * message of another set arriving first means a writer broke that promise; the partial set is
 * then applied as it is (with a warning) rather than held back forever, and so is one that stays
 * incomplete for `flushAfterMs`.
 */
export class ChangeSetAssembler {
  private pending: RawChange[] = [];
  private pendingId = "";
  private pendingSize = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly emit: (batch: ChangeBatch) => void,
    private readonly logger: Logger,
    private readonly flushAfterMs = 5000,
  ) {}

  push(change: RawChange): void {
    if (this.pending.length > 0 && change.changeSetId !== this.pendingId) {
      this.flush(`a message of change set ${JSON.stringify(change.changeSetId)} arrived first`);
    }
    if (change.changeSetSize <= 1 || change.changeSetId === "") {
      this.emit({ kind: "set", changes: [change], changeSetId: change.changeSetId });
      return;
    }
    if (this.pending.length === 0) {
      this.pendingId = change.changeSetId;
      this.pendingSize = change.changeSetSize;
      this.timer = setTimeout(
        () => this.flush(`incomplete after ${this.flushAfterMs} ms`),
        this.flushAfterMs,
      );
      this.timer.unref();
    }
    this.pending.push(change);
    if (this.pending.length >= this.pendingSize) this.complete();
  }

  /** Drops a partial set (the source was reset and reloads from scratch). */
  clear(): void {
    this.stopTimer();
    this.pending = [];
  }

  private complete(): void {
    this.stopTimer();
    const changes = this.pending;
    this.pending = [];
    this.emit({ kind: "set", changes, changeSetId: this.pendingId });
  }

  private flush(why: string): void {
    if (this.pending.length === 0) return;
    this.logger.warn(
      `change set ${this.pendingId}: applying ${this.pending.length} of ${this.pendingSize} keys, ${why}`,
    );
    this.complete();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
