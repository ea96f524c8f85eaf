import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import type { Pool } from "pg";
import type { AnalyticsMetrics } from "../metrics";
import { Backoff, sleep } from "./backoff";
import type { BatchWriter } from "./batch-writer";
import type { RejectedRecord } from "./copy-writer";
import { isTransientPgError } from "./pg-errors";
import { RateWindow } from "./rate-window";
import type { StreamRecord } from "./stream-record";
import { inTransaction } from "./transaction";

/** What a {@link StreamIngester} needs. */
export interface StreamIngesterOptions {
  nc: NatsConnection;
  pool: Pool;
  stream: string;
  /** Durable consumer name, shared by every analytics instance. */
  durable: string;
  filterSubject: string;
  writer: BatchWriter;
  batchRows: number;
  batchMs: number;
  retryMinMs: number;
  retryMaxMs: number;
  ackWaitMs: number;
  metrics: AnalyticsMetrics;
  logger: Logger;
}

/** Health and throughput of one stream's ingest, for /v1/pipeline and /healthz. */
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

interface Entry {
  msg: JsMsg;
  line?: string;
  reject?: RejectedRecord;
}

const IDLE_POLL_MS = 500;
/** Two: one batch in PostgreSQL while the next fills; more only adds lock waits on node_state. */
const MAX_BATCHES_IN_FLIGHT = 2;

/**
 * Reads a durable pull consumer, cuts the messages into batches (by count or by time), writes each
 * batch in one transaction and acknowledges its messages only after COMMIT. A failed write is
 * retried with backoff while the messages are kept ours (`working()`), so nothing is lost; rows
 * have unique keys, so a redelivered message never adds a row. A row PostgreSQL refuses is found
 * by splitting the batch and kept in `ingest_rejects`, so one bad message cannot stall the stream.
 */
export class StreamIngester {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private messages: ConsumerMessages | undefined;
  private healthy = true;
  private lastError: string | undefined;
  private lastCommitAtMs: number | undefined;
  private rowsTotal = 0;
  private messagesTotal = 0;
  private readonly rate = new RateWindow(10_000);

  constructor(private readonly opts: StreamIngesterOptions) {
    opts.metrics.ingestHealthy.set({ kind: opts.writer.kind }, 1);
  }

  /** Creates (or updates) the durable consumer and starts reading. */
  async start(): Promise<void> {
    await this.ensureConsumer();
    this.loop = this.run();
  }

  /** Stops reading; a batch not yet committed is handed back (nak) for immediate redelivery. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.messages?.stop();
    await this.loop;
  }

  status(): IngestStatus {
    return {
      kind: this.opts.writer.kind,
      stream: this.opts.stream,
      consumer: this.opts.durable,
      healthy: this.healthy,
      lastError: this.lastError,
      lastCommitAtMs: this.lastCommitAtMs,
      rowsTotal: this.rowsTotal,
      messagesTotal: this.messagesTotal,
      rowsPerSec: this.rate.perSecond(),
    };
  }

  /** Messages the consumer has not had acknowledged yet (not delivered + delivered, unacked). */
  async lag(): Promise<{ pending: number; ackPending: number }> {
    const jsm = await jetstreamManager(this.opts.nc);
    const info = await jsm.consumers.info(this.opts.stream, this.opts.durable);
    const lag = { pending: info.num_pending, ackPending: info.num_ack_pending };
    this.opts.metrics.consumerLag.set(
      { kind: this.opts.writer.kind },
      lag.pending + lag.ackPending,
    );
    return lag;
  }

  private async ensureConsumer(): Promise<void> {
    const { stream, durable, filterSubject, batchRows, ackWaitMs } = this.opts;
    const jsm = await jetstreamManager(this.opts.nc);
    // Room for a batch being written, the next one filling, and a few other instances.
    const editable = {
      ack_wait: ackWaitMs * 1_000_000,
      max_ack_pending: Math.max(1000, batchRows * 4),
      max_deliver: -1,
    };
    try {
      await jsm.consumers.info(stream, durable);
      await jsm.consumers.update(stream, durable, editable);
    } catch (err) {
      if (!/consumer not found/i.test(String(err))) throw err;
      try {
        await jsm.consumers.add(stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          filter_subject: filterSubject,
          ...editable,
        });
      } catch (addErr) {
        // Another instance created it first.
        if (!/already (exists|in use)/i.test(String(addErr))) throw addErr;
      }
    }
  }

  private async run(): Promise<void> {
    const backoff = new Backoff(this.opts.retryMinMs, this.opts.retryMaxMs);
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        const consumer = await jetstream(this.opts.nc).consumers.get(
          this.opts.stream,
          this.opts.durable,
        );
        this.messages = await consumer.consume({
          max_messages: Math.max(100, this.opts.batchRows * 2),
        });
        if (signal.aborted) this.messages.stop();
        backoff.reset();
        await this.drain(this.messages[Symbol.asyncIterator]());
      } catch (err) {
        if (signal.aborted) break;
        this.opts.logger.warn(`${this.opts.writer.kind}: consumer failed: ${String(err)}`);
        await sleep(backoff.next(), signal);
        await this.ensureConsumer().catch(() => undefined);
      }
    }
  }

  private async drain(iter: AsyncIterator<JsMsg>): Promise<void> {
    let next: Promise<IteratorResult<JsMsg>> | undefined;
    const signal = this.abort.signal;
    // Batches being written. The next batch is collected (and decoded) while earlier ones are in
    // PostgreSQL; each batch is acknowledged on its own commit, so their order does not matter.
    const writing = new Set<Promise<void>>();
    try {
      while (!signal.aborted) {
        const batch: JsMsg[] = [];
        let deadline = Infinity;
        let ended = false;
        while (batch.length < this.opts.batchRows && !signal.aborted) {
          next ??= iter.next();
          const wait = deadline === Infinity ? IDLE_POLL_MS : deadline - Date.now();
          if (wait <= 0) break;
          const res = await raceTimeout(next, wait);
          if (res === "timeout") {
            if (batch.length > 0) break;
            continue;
          }
          next = undefined;
          if (res.done) {
            ended = true;
            break;
          }
          batch.push(res.value);
          if (batch.length === 1) deadline = Date.now() + this.opts.batchMs;
        }
        if (batch.length > 0) {
          const w: Promise<void> = this.commitBatch(batch).finally(() => writing.delete(w));
          writing.add(w);
          if (writing.size >= MAX_BATCHES_IN_FLIGHT) await Promise.race(writing);
        }
        if (ended) return;
      }
    } finally {
      await Promise.all(writing);
    }
  }

  private async commitBatch(msgs: JsMsg[]): Promise<void> {
    const entries = msgs.map((m) => this.toEntry(m));
    const kind = this.opts.writer.kind;
    const backoff = new Backoff(this.opts.retryMinMs, this.opts.retryMaxMs);
    // Keep the batch ours while we retry, so it is not redelivered to another instance meanwhile.
    const keepAlive = setInterval(
      () => msgs.forEach((m) => m.working()),
      Math.max(500, this.opts.ackWaitMs / 3),
    );
    try {
      for (;;) {
        if (this.abort.signal.aborted) {
          msgs.forEach((m) => m.nak());
          return;
        }
        const stop = this.opts.metrics.batchSeconds.startTimer({ kind });
        try {
          const rows = await this.writeSplitting(entries);
          stop();
          msgs.forEach((m) => m.ack());
          this.recordCommit(msgs.length, rows, entries);
          return;
        } catch (err) {
          this.healthy = false;
          this.lastError = err instanceof Error ? err.message : String(err);
          this.opts.metrics.writeFailures.inc({ kind });
          this.opts.metrics.ingestHealthy.set({ kind }, 0);
          const delay = backoff.next();
          this.opts.logger.warn(
            `${kind}: write of ${msgs.length} messages failed (${this.lastError}); retrying in ${delay} ms, not acknowledged`,
          );
          await sleep(delay, this.abort.signal);
        }
      }
    } finally {
      clearInterval(keepAlive);
    }
  }

  private recordCommit(messages: number, rows: number, entries: Entry[]): void {
    const kind = this.opts.writer.kind;
    this.healthy = true;
    this.lastError = undefined;
    this.lastCommitAtMs = Date.now();
    this.rowsTotal += rows;
    this.messagesTotal += messages;
    this.rate.add(rows);
    this.opts.metrics.ingestHealthy.set({ kind }, 1);
    this.opts.metrics.rowsIngested.inc({ kind }, rows);
    this.opts.metrics.messagesAcked.inc({ kind }, messages);
    const rejected = entries.filter((e) => e.reject).length;
    if (rejected > 0) this.opts.metrics.rejected.inc({ kind }, rejected);
  }

  private toEntry(msg: JsMsg): Entry {
    const rec: StreamRecord = {
      subject: msg.subject,
      data: msg.data,
      streamSeq: msg.seq,
      timeMs: Number(msg.timestampNanos / 1_000_000n),
      msgId: msg.headers?.get("Nats-Msg-Id") || undefined,
    };
    try {
      return { msg, line: this.opts.writer.line(rec) };
    } catch (err) {
      return { msg, reject: rejectOf(rec, err) };
    }
  }

  /**
   * Writes entries in one transaction. When PostgreSQL refuses a row (not a transient error), the
   * batch is split in halves until the refused entry is alone; it then becomes a reject.
   */
  private async writeSplitting(entries: Entry[]): Promise<number> {
    const lines = entries.flatMap((e) => (e.line === undefined ? [] : [e.line]));
    const rejects = entries.flatMap((e) => (e.reject ? [e.reject] : []));
    try {
      return await inTransaction(this.opts.pool, (c) => this.opts.writer.write(c, lines, rejects));
    } catch (err) {
      if (isTransientPgError(err)) throw err;
      const withLines = entries.filter((e) => e.line !== undefined);
      if (withLines.length <= 1) {
        for (const e of withLines) {
          e.line = undefined;
          e.reject = rejectOf(recordOf(e.msg), err);
        }
        if (withLines.length === 0) throw err; // the rejects themselves failed: retry as transient
        this.opts.logger.warn(`${this.opts.writer.kind}: row refused: ${String(err)}`);
        return this.writeSplitting(entries);
      }
      const half = Math.ceil(entries.length / 2);
      return (
        (await this.writeSplitting(entries.slice(0, half))) +
        (await this.writeSplitting(entries.slice(half)))
      );
    }
  }
}

function recordOf(msg: JsMsg): StreamRecord {
  return {
    subject: msg.subject,
    data: msg.data,
    streamSeq: msg.seq,
    timeMs: Number(msg.timestampNanos / 1_000_000n),
  };
}

function rejectOf(rec: StreamRecord, err: unknown): RejectedRecord {
  return {
    subject: rec.subject,
    streamSeq: rec.streamSeq,
    timeMs: rec.timeMs,
    data: rec.data,
    reason: err instanceof Error ? err.message : String(err),
  };
}

async function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), ms)));
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}
