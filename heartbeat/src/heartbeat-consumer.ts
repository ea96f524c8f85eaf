import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type {
  Consumer,
  ConsumerMessages,
  JetStreamClient,
  JetStreamManager,
  JsMsg,
} from "@nats-io/jetstream";
import type { Logger } from "@konorkestra/sdk";
import { monitorConsumerName, parseAckSubject } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { DetectionClock } from "./detection-clock";
import type { RawHeartbeat } from "./heartbeat-validator";

const NS = 1_000_000;
/** Acknowledge (AckAll) at least this often, and every this many messages. */
const ACK_EVERY_MS = 200;
const ACK_EVERY_MSGS = 1000;

/** Where the consumer delivers, and how the consumer learns it may call itself current. */
export interface HeartbeatSink {
  /** Synchronous, or a promise while later heartbeats must wait (they are then queued). */
  onHeartbeat(raw: RawHeartbeat, pending: number): Promise<void> | undefined;
  /** Highest stream sequence the sink has processed. */
  readonly processedSeq: number;
}

/**
 * Reads every heartbeat in KON_HB in stream order through a durable consumer of this monitor's
 * own (`<prefix>_monitor_<id>`), so a restarted monitor resumes where it stopped and replays the
 * backlog instead of skipping it. A new consumer starts with each node's last heartbeat.
 * Acknowledged with AckAll in batches: processing is in order, so one ack covers the batch.
 *
 * Messages are handled in the consumer's callback, synchronously, with the stream position read
 * from the ack subject (the sdk's parser): an async iteration costs several promise turns per
 * message, and each turn flushed the monitor's own publishes in a socket write of their own.
 * A heartbeat whose handling must wait (a KON_HB look-up) queues the ones after it.
 */
export class HeartbeatConsumer {
  private messages: ConsumerMessages | undefined;
  private consumer: Consumer | undefined;
  private lastMsg: JsMsg | undefined;
  private unacked = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Messages waiting behind a heartbeat whose handling is still running. */
  private queue: JsMsg[] = [];
  private queueHead = 0;
  private waiting: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly names: WireNames,
    private readonly monitorId: string,
    private readonly clock: DetectionClock,
    private readonly sink: HeartbeatSink,
    private readonly logger: Logger,
  ) {}

  get name(): string {
    return monitorConsumerName(this.names, this.monitorId);
  }

  async start(): Promise<void> {
    const stream = this.names.heartbeatStream;
    try {
      await this.jsm.consumers.info(stream, this.name);
    } catch (err) {
      if (!/consumer not found/i.test(String(err))) throw err;
      await this.jsm.consumers.add(stream, {
        durable_name: this.name,
        filter_subject: this.names.heartbeatFilter,
        deliver_policy: DeliverPolicy.LastPerSubject,
        ack_policy: AckPolicy.All,
        ack_wait: 30_000 * NS,
        max_ack_pending: 20 * ACK_EVERY_MSGS,
        // A monitor gone for a day starts afresh from each node's last heartbeat.
        inactive_threshold: 24 * 3600_000 * NS,
      });
    }
    this.consumer = await this.js.consumers.get(stream, this.name);
    this.messages = await this.consumer.consume({
      max_messages: ACK_EVERY_MSGS,
      idle_heartbeat: 5000,
      callback: (m) => this.receive(m),
    });
    void this.watchStatus(this.messages);
    this.timers.push(setInterval(() => this.ack(), ACK_EVERY_MS));
    this.timers.push(setInterval(() => void this.probe(), 1000));
    for (const t of this.timers) t.unref();
    await this.probe();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.messages?.stop();
    while (this.waiting) await this.waiting;
    this.ack();
  }

  private receive(m: JsMsg): void {
    if (this.stopped) return;
    if (this.waiting) {
      this.queue.push(m);
      return;
    }
    this.handle(m);
  }

  /** Handles one message; starts queueing when its handling goes asynchronous. */
  private handle(m: JsMsg): void {
    // nats.js keeps the ack subject as `reply` without declaring it.
    const reply = (m as unknown as { reply?: unknown }).reply;
    const at = typeof reply === "string" ? parseAckSubject(reply) : undefined;
    const raw: RawHeartbeat = {
      subject: m.subject,
      data: m.data,
      seq: at?.streamSeq ?? m.seq,
      atMs: at?.timeMs ?? Math.floor(m.info.timestampNanos / NS),
    };
    let pending: Promise<void> | undefined;
    try {
      pending = this.sink.onHeartbeat(raw, at?.pending ?? m.info.pending);
    } catch (err) {
      this.failed(m, err);
    }
    if (pending) {
      this.waiting = pending
        .catch((err: unknown) => this.failed(m, err))
        .then(() => this.done(m))
        .then(() => this.drain());
      return;
    }
    this.done(m);
  }

  /** The sink handles bad input itself; this is a bug, not a reason to stop consuming. */
  private failed(m: JsMsg, err: unknown): void {
    this.logger.error(`heartbeat ${m.seq} on ${m.subject} failed: ${String(err)}`);
  }

  private done(m: JsMsg): void {
    this.lastMsg = m;
    if (++this.unacked >= ACK_EVERY_MSGS) this.ack();
  }

  private drain(): void {
    this.waiting = undefined;
    while (this.queueHead < this.queue.length && !this.waiting && !this.stopped) {
      this.handle(this.queue[this.queueHead++]!);
    }
    if (this.queueHead >= this.queue.length || this.stopped) {
      this.queue = [];
      this.queueHead = 0;
    }
  }

  private ack(): void {
    if (!this.lastMsg || this.unacked === 0) return;
    this.lastMsg.ack();
    this.unacked = 0;
  }

  /** Idle or after a hiccup: ask the server whether anything is left for this consumer. */
  private async probe(): Promise<void> {
    if (this.stopped || this.clock.isCurrent || !this.consumer) return;
    try {
      const info = await this.consumer.info();
      if (info.num_pending === 0 && info.delivered.stream_seq <= this.sink.processedSeq) {
        this.clock.markCaughtUp();
      }
    } catch (err) {
      this.logger.warn(`heartbeat consumer ${this.name}: ${String(err)}`);
    }
  }

  private async watchStatus(messages: ConsumerMessages): Promise<void> {
    for await (const s of messages.status()) {
      if (
        s.type === "heartbeats_missed" ||
        s.type === "consumer_not_found" ||
        s.type === "consumer_deleted"
      ) {
        this.clock.markBehind();
        this.logger.warn(`heartbeat consumer ${this.name}: ${s.type}`);
      }
    }
  }
}
