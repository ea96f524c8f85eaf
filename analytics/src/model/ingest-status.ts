/** Health and throughput of one stream's ingest, as /v1/pipeline and /healthz show it. */
export interface IngestStatus {
  kind: string;
  stream: string;
  consumer: string;
  /** False while the last write failed and the batch is being retried. */
  healthy: boolean;
  lastError?: string;
  lastCommitAtMs?: number;
  rowsTotal: number;
  messagesTotal: number;
  rowsPerSec: number;
}

/** Messages a durable consumer has not had acknowledged yet. */
export interface ConsumerLag {
  /** Not delivered yet. */
  pending: number;
  /** Delivered, not acknowledged. */
  ackPending: number;
}
