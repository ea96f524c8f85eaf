import type { PoolClient } from "pg";
import type { RejectedRecord } from "./copy-writer";
import type { StreamRecord } from "./stream-record";

/** Turns one stream's messages into rows and writes a batch of them in the caller's transaction. */
export interface BatchWriter {
  /** Short name for metrics and logs: `heartbeats` or `events`. */
  readonly kind: string;
  /** One COPY line for a record, or undefined to skip it; throws for an undecodable record. */
  line(rec: StreamRecord): string | undefined;
  /** Writes the lines (and rejects); returns how many new rows were stored. */
  write(client: PoolClient, lines: string[], rejects: RejectedRecord[]): Promise<number>;
}
