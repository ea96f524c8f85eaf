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

/** A delivered message with its stream position read once. */
interface Delivery {
  readonly msg: JsMsg;
  readonly raw: RawHeartbeat;
  readonly seq: number;
  readonly pending: number;
}

function delivery(m: JsMsg): Delivery {
  // nats.js keeps the ack subject as `reply` without declaring it.
  const reply = (m as unknown as { reply?: unknown }).reply;
  const at = typeof reply === "string" ? parseAckSubject(reply) : undefined;
  const seq = at?.streamSeq ?? m.seq;
  const raw: RawHeartbeat = {
    subject: m.subject,
    data: m.data,
    seq,
    atMs: at?.timeMs ?? Math.floor(m.info.timestampNanos / NS),
  };
  return { msg: m, raw, seq, pending: at?.pending ?? m.info.pending };
}

/**
 * Which message an AckAll may name: the newest one done with nothing unfinished before it (an ack
 * covers every earlier message, so one still waiting for a look-up must not be passed).
 */
export class AckFloor {
  /** Stream sequences of messages not yet done (waiting, or behind one that waits). */
  private readonly held = new Set<number>();
  private floor = Infinity;
  /** Done above the floor, by arrival; moved to `last` when the floor passes them. */
  private doneAbove: { seq: number; msg: JsMsg }[] = [];
  private last: JsMsg | undefined;
  private lastSeq = 0;
  private count = 0;

  hold(seq: number): void {
    if (this.held.has(seq)) return;
    this.held.add(seq);
    if (seq < this.floor) this.floor = seq;
  }

  /** Marks a message done; returns how many are done and not yet acknowledged. */
  done(seq: number, msg: JsMsg): number {
    if (this.held.delete(seq) && seq === this.floor) this.raiseFloor();
    this.count += 1;
    if (seq < this.floor) this.advance(seq, msg);
    else this.doneAbove.push({ seq, msg });
    return this.count;
  }

  /** The message to acknowledge now, if any. */
  take(): JsMsg | undefined {
    if (!this.last || this.count === 0) return undefined;
    const m = this.last;
    this.count = 0;
    this.last = undefined;
    return m;
  }

  private advance(seq: number, msg: JsMsg): void {
    if (seq > this.lastSeq) {
      this.lastSeq = seq;
      this.last = msg;
    }
  }

  private raiseFloor(): void {
    this.floor = Infinity;
    for (const s of this.held) if (s < this.floor) this.floor = s;
    const keep: { seq: number; msg: JsMsg }[] = [];
    for (const d of this.doneAbove) {
      if (d.seq < this.floor) this.advance(d.seq, d.msg);
      else keep.push(d);
    }
    // Messages now below the floor count as done-and-unacknowledged, even after a take().
    if (keep.length < this.doneAbove.length) this.count = Math.max(this.count, 1);
    this.doneAbove = keep;
  }
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
 * A heartbeat whose handling must wait (a KON_HB look-up) queues the later ones of its node.
 */
export class HeartbeatConsumer {
  private messages: ConsumerMessages | undefined;
  private consumer: Consumer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** Per subject (node): beats waiting behind one of the same node still being handled. */
  private readonly parked = new Map<string, Delivery[]>();
  private readonly inflight = new Set<Promise<void>>();
  /** Acks: see AckFloor. */
  private readonly acks = new AckFloor();

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
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    this.ack();
  }

  private receive(m: JsMsg): void {
    if (this.stopped) return;
    const d = delivery(m);
    const queue = this.parked.get(m.subject);
    if (queue) {
      this.acks.hold(d.seq);
      queue.push(d);
      return;
    }
    this.handle(d);
  }

  /**
   * Handles one message. When its handling goes asynchronous (a KON_HB look-up for a gap), later
   * beats of the same node wait for it; other nodes' beats go on, so a burst of gaps after an
   * outage costs one look-up's latency, not one per gap in a row. Returns true when it waits.
   */
  private handle(d: Delivery): boolean {
    let pending: Promise<void> | undefined;
    try {
      pending = this.sink.onHeartbeat(d.raw, d.pending);
    } catch (err) {
      this.failed(d, err);
    }
    if (!pending) {
      this.done(d);
      return false;
    }
    this.acks.hold(d.seq);
    if (!this.parked.has(d.raw.subject)) this.parked.set(d.raw.subject, []);
    const p = pending
      .catch((err: unknown) => this.failed(d, err))
      .then(() => {
        this.done(d);
        this.resume(d.raw.subject);
      })
      .finally(() => this.inflight.delete(p));
    this.inflight.add(p);
    return true;
  }

  /** Handles the node's waiting beats in order, until one waits again. */
  private resume(subject: string): void {
    const queue = this.parked.get(subject);
    while (queue && queue.length > 0 && !this.stopped) {
      if (this.handle(queue.shift()!)) return;
    }
    this.parked.delete(subject);
  }

  /** The sink handles bad input itself; this is a bug, not a reason to stop consuming. */
  private failed(d: Delivery, err: unknown): void {
    this.logger.error(`heartbeat ${d.seq} on ${d.raw.subject} failed: ${String(err)}`);
  }

  private done(d: Delivery): void {
    if (this.acks.done(d.seq, d.msg) >= ACK_EVERY_MSGS) this.ack();
  }

  private ack(): void {
    this.acks.take()?.ack();
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
