import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import { parseAckSubject } from "@konorkestra/sdk/internal";
import type { Pool } from "pg";
import { Backoff, sleep } from "../backoff";
import { failureText, redactSecrets } from "../failure-text";
import type { AnalyticsMetrics } from "../metrics";
import type { ConsumerLag, IngestStatus } from "../model/ingest-status";
import { isTransientPgError } from "../pg/pg-errors";
import { inTransaction } from "../pg/transaction";
import { BatchCollector } from "./batch-collector";
import type { BatchWriter } from "./batch-writer";
import { ackBatch, replyAll } from "./bulk-ack";
import type { RejectedRecord } from "./ingest-rejects";
import { PullReader } from "./pull-reader";
import { RateWindow } from "./rate-window";
import type { StreamRecord } from "./stream-record";

/** What a {@link StreamIngester} needs. */
export interface StreamIngesterOptions {
  nc: NatsConnection;
  pool: Pool;
  stream: string;
  /** Durable consumer name, shared by every analytics instance. */
  durable: string;
  filterSubject: string;
  /** Any writer: its row type stays between its own row() and write(). */
  writer: BatchWriter<unknown>;
  batchRows: number;
  batchMs: number;
  /** Batches written at the same time (each in its own transaction). */
  concurrency: number;
  retryMinMs: number;
  retryMaxMs: number;
  ackWaitMs: number;
  metrics: AnalyticsMetrics;
  logger: Logger;
}

/** A pull request's life at the server (it is replaced when it ends). */
const PULL_EXPIRES_MS = 10_000;

interface Entry {
  /** The message's ack subject. */
  reply: string;
  rec: StreamRecord;
  redelivered: boolean;
  row?: unknown;
  reject?: RejectedRecord;
}

/**
 * Reads a durable pull consumer ({@link PullReader}: its own pull requests, deliveries read off
 * the wire), cuts the messages into batches (by count or by time), writes each
 * batch in one transaction and acknowledges its messages only after COMMIT. A failed write is
 * retried with backoff while the messages are kept ours (`working()`), so nothing is lost; rows
 * have unique keys, so a redelivered message never adds a row. A row PostgreSQL refuses is found
 * by splitting the batch and kept in `ingest_rejects`, so one bad message cannot stall the stream.
 */
export class StreamIngester {
  private readonly abort = new AbortController();
  private reader: PullReader | undefined;
  private recovering: Promise<void> | undefined;
  private readonly collector: BatchCollector<Entry>;
  /** Cut batches waiting for a free writer. */
  private readonly queued: Entry[][] = [];
  /** Every batch not yet acknowledged (queued or being written), kept alive with working(). */
  private readonly held = new Set<Entry[]>();
  private readonly writes = new Set<Promise<void>>();
  private keepAlive: NodeJS.Timeout | undefined;
  private healthy = true;
  private lastError: string | undefined;
  private lastCommitAtMs: number | undefined;
  private rowsTotal = 0;
  private messagesTotal = 0;
  private readonly rate = new RateWindow(10_000);

  constructor(private readonly opts: StreamIngesterOptions) {
    opts.metrics.ingestHealthy.set({ kind: opts.writer.kind }, 1);
    this.collector = new BatchCollector(opts.batchRows, opts.batchMs, (b) => this.enqueue(b));
  }

  /** Creates (or updates) the durable consumer and starts reading. */
  async start(): Promise<void> {
    await this.ensureConsumer();
    // Keep every batch in hand ours while it waits or is retried, so it is not redelivered to
    // another instance meanwhile.
    this.keepAlive = setInterval(
      () => this.held.forEach((b) => this.answer(b, "+WPI")),
      Math.max(500, this.opts.ackWaitMs / 3),
    );
    this.reader = new PullReader({
      nc: this.opts.nc,
      stream: this.opts.stream,
      durable: this.opts.durable,
      // Large pulls: one request per batch of rows, not per handful of messages.
      batch: Math.max(200, 2 * this.opts.batchRows),
      expiresMs: PULL_EXPIRES_MS,
      onMessage: (subject, reply, msgId, data) => this.receive(subject, reply, msgId, data),
      onConsumerLost: (st) => this.recover(`${st.code} ${st.description}`),
      logger: this.opts.logger,
    });
    this.reader.start();
  }

  /** Stops reading; batches not yet committed are handed back (nak) for immediate redelivery. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.reader?.stop();
    await this.recovering;
    this.handBack(this.collector.takeAll());
    for (const b of this.queued.splice(0)) this.handBack(b);
    await Promise.all(this.writes);
    clearInterval(this.keepAlive);
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
  async lag(): Promise<ConsumerLag> {
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
    const { stream, durable, filterSubject, batchRows, ackWaitMs, concurrency } = this.opts;
    const jsm = await jetstreamManager(this.opts.nc);
    // Room for the batches being written, one cut and waiting for a writer, and one filling:
    // while both writers wait on PostgreSQL the next batch is already read and turned into
    // tuples, so a commit is followed by a write at once rather than by a delivery round. This is
    // also the back-pressure: the server delivers no more while this many are unacknowledged,
    // which bounds what a slow or unreachable PostgreSQL makes this process hold in memory
    // (several instances share it).
    const editable = {
      ack_wait: ackWaitMs * 1_000_000,
      max_ack_pending: Math.max(1000, batchRows * (concurrency + 2)),
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

  /** The consumer went away: re-create it (with backoff) and ask for messages again. */
  private recover(why: string): void {
    if (this.recovering || this.abort.signal.aborted) return;
    this.opts.logger.warn(`${this.opts.writer.kind}: consumer lost (${why}); re-creating it`);
    this.recovering = (async () => {
      const backoff = new Backoff(this.opts.retryMinMs, this.opts.retryMaxMs);
      while (!this.abort.signal.aborted) {
        // Never in a tight loop, even when the consumer comes back and goes again at once.
        await sleep(backoff.next(), this.abort.signal);
        try {
          await this.ensureConsumer();
          this.reader?.restart();
          return;
        } catch (err) {
          this.opts.logger.warn(
            `${this.opts.writer.kind}: consumer not re-created: ${redactSecrets(String(err))}`,
          );
        }
      }
    })().finally(() => (this.recovering = undefined));
  }

  /** Decodes a message as it arrives, so the work is spread out rather than done per batch. */
  private receive(
    subject: string,
    reply: string,
    msgId: string | undefined,
    data: Uint8Array,
  ): void {
    if (this.abort.signal.aborted) {
      replyAll(this.opts.nc, [reply], "-NAK");
      return;
    }
    const entry = this.toEntry(subject, reply, msgId, data);
    if (entry) this.collector.add(entry);
  }

  private answer(batch: readonly Entry[], verb: "+WPI" | "-NAK"): void {
    replyAll(
      this.opts.nc,
      batch.map((e) => e.reply),
      verb,
    );
  }

  private enqueue(batch: Entry[]): void {
    this.held.add(batch);
    this.queued.push(batch);
    this.pump();
  }

  /** Starts queued batches while fewer than `concurrency` are being written. */
  private pump(): void {
    while (this.writes.size < this.opts.concurrency && this.queued.length > 0) {
      const batch = this.queued.shift()!;
      const w: Promise<void> = this.commitBatch(batch)
        .catch((err: unknown) => {
          // Only acking or handing back can fail here (connection gone): redelivery covers it.
          this.opts.logger.warn(
            `${this.opts.writer.kind}: batch not settled: ${redactSecrets(String(err))}`,
          );
        })
        .finally(() => {
          this.held.delete(batch);
          this.writes.delete(w);
          this.pump();
        });
      this.writes.add(w);
    }
  }

  private handBack(batch: Entry[]): void {
    this.answer(batch, "-NAK");
    this.held.delete(batch);
  }

  private async commitBatch(entries: Entry[]): Promise<void> {
    const kind = this.opts.writer.kind;
    const backoff = new Backoff(this.opts.retryMinMs, this.opts.retryMaxMs);
    const redelivered = entries.some((e) => e.redelivered);
    for (;;) {
      if (this.abort.signal.aborted) return this.handBack(entries);
      const stop = this.opts.metrics.batchSeconds.startTimer({ kind });
      try {
        const rows = await this.writeSplitting(entries, redelivered);
        stop();
        ackBatch(
          this.opts.nc,
          entries.map((e) => e.reply),
        );
        this.recordCommit(entries.length, rows, entries);
        return;
      } catch (err) {
        this.healthy = false;
        this.lastError = failureText(err);
        this.opts.metrics.writeFailures.inc({ kind });
        this.opts.metrics.ingestHealthy.set({ kind }, 0);
        const delay = backoff.next();
        this.opts.logger.warn(
          `${kind}: write of ${entries.length} messages failed (${redactSecrets(err instanceof Error ? err.message : String(err))}); retrying in ${delay} ms, not acknowledged`,
        );
        await sleep(delay, this.abort.signal);
      }
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

  private toEntry(
    subject: string,
    reply: string,
    msgId: string | undefined,
    data: Uint8Array,
  ): Entry | undefined {
    const info = parseAckSubject(reply);
    if (!info) {
      // Not a JetStream delivery (something else published to the inbox): nothing to store.
      this.opts.logger.warn(`${this.opts.writer.kind}: ignored a message with reply ${reply}`);
      return undefined;
    }
    const rec: StreamRecord = {
      subject,
      data,
      streamSeq: info.streamSeq,
      timeMs: info.timeMs,
      msgId,
    };
    const redelivered = info.deliveryCount > 1;
    try {
      return { reply, rec, redelivered, row: this.opts.writer.row(rec) };
    } catch (err) {
      return { reply, rec, redelivered, reject: rejectOf(rec, err) };
    }
  }

  /**
   * Writes entries in one transaction. When PostgreSQL refuses a row (not a transient error), the
   * batch is split in halves until the refused entry is alone; it then becomes a reject.
   */
  private async writeSplitting(entries: Entry[], redelivered: boolean): Promise<number> {
    const rows = entries.flatMap((e) => (e.row === undefined ? [] : [e.row]));
    const rejects = entries.flatMap((e) => (e.reject ? [e.reject] : []));
    try {
      const result = await inTransaction(this.opts.pool, (c) =>
        this.opts.writer.write(c, rows, rejects, { redelivered }),
      );
      result.onCommit?.();
      return result.inserted;
    } catch (err) {
      if (isTransientPgError(err)) throw err;
      const withRows = entries.filter((e) => e.row !== undefined);
      if (withRows.length <= 1) {
        for (const e of withRows) {
          e.row = undefined;
          e.reject = rejectOf(e.rec, err);
        }
        if (withRows.length === 0) throw err; // the rejects themselves failed: retry as transient
        this.opts.logger.warn(`${this.opts.writer.kind}: row refused: ${String(err)}`);
        return this.writeSplitting(entries, redelivered);
      }
      const half = Math.ceil(entries.length / 2);
      return (
        (await this.writeSplitting(entries.slice(0, half), redelivered)) +
        (await this.writeSplitting(entries.slice(half), redelivered))
      );
    }
  }
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
