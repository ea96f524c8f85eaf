import type { PoolClient } from "pg";
import type { RejectedRecord } from "./ingest-rejects";
import type { StreamRecord } from "./stream-record";

/** How a batch is to be written. */
export interface WriteHints {
  /**
   * Some message of the batch was delivered before: its row may already be stored, so the
   * writer must de-duplicate rather than try the fast path first.
   */
  redelivered: boolean;
}

/** What a write did, and what to do once its transaction has committed. */
export interface WriteResult {
  /** New rows stored (duplicates not counted). */
  inserted: number;
  /** Runs after COMMIT only (never after a rollback). */
  onCommit?: () => void;
}

/**
 * Turns one stream's messages into rows (type R) and writes a batch of them in the caller's
 * transaction.
 */
export interface BatchWriter<R> {
  /** Short name for metrics and logs: `heartbeats` or `events`. */
  readonly kind: string;
  /** The row for a record, or undefined to skip it; throws for an undecodable record. */
  row(rec: StreamRecord): R | undefined;
  /** Writes the rows (and rejects). */
  write(
    client: PoolClient,
    rows: R[],
    rejects: RejectedRecord[],
    hints: WriteHints,
  ): Promise<WriteResult>;
}
