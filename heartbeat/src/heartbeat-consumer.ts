import { AckPolicy, DeliverPolicy } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import { monitorConsumerName } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import { AckFloor } from "./ack-floor";
import type { DetectionClock } from "./detection-clock";
import type { RawHeartbeat } from "./heartbeat-validator";
import { PullFeed } from "./pull-feed";
import type { AckPosition } from "./pull-feed";

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

/** A delivered message with its stream position read once (`raw.seq`); `reply` acks it. */
interface Delivery {
  readonly raw: RawHeartbeat;
  readonly reply: string;
  readonly pending: number;
}

/**
 * Reads every heartbeat in KON_HB in stream order through a durable consumer of this monitor's
 * own (`<prefix>_monitor_<id>`), so a restarted monitor resumes where it stopped and replays the
 * backlog instead of skipping it. A new consumer starts with each node's last heartbeat.
 * Acknowledged with AckAll in batches: processing is in order, so one ack covers the batch.
 *
 * Messages come through a {@link PullFeed} (pull requests on a core subscription, position read
 * from the ack subject by the sdk's parser) and are handled synchronously as they arrive: nats.js'
 * `consume()` wrapped each in a `JsMsg` and did pull bookkeeping per message, and an async
 * iteration costs several promise turns per message, each flushing the monitor's own publishes
 * in a socket write of their own. A heartbeat whose handling must wait (a KON_HB look-up) queues
 * the later ones of its node.
 */
export class HeartbeatConsumer {
  private feed: PullFeed | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;
  /** Per subject (node): beats waiting behind one of the same node still being handled. */
  private readonly parked = new Map<string, Delivery[]>();
  private readonly inflight = new Set<Promise<void>>();
  /** Acks (by ack subject): see AckFloor. */
  private readonly acks = new AckFloor<string>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly names: WireNames,
    private readonly monitorId: string,
    private readonly clock: DetectionClock,
    private readonly sink: HeartbeatSink,
    private readonly logger: Logger,
    /** How often the feed asks for what is waiting; 0: one long pull request (see PullFeed). */
    private readonly pollMs = 0,
  ) {}

  get name(): string {
    return monitorConsumerName(this.names, this.monitorId);
  }

  async start(): Promise<void> {
    await this.ensureConsumer();
    this.feed = new PullFeed(
      this.nc,
      this.names.heartbeatStream,
      this.name,
      {
        maxMessages: ACK_EVERY_MSGS,
        refillBelow: Math.round(0.75 * ACK_EVERY_MSGS),
        expiresMs: 30_000,
        idleHeartbeatMs: 5000,
        pollMs: this.pollMs,
      },
      {
        message: (subject, data, reply, at) => this.receive(subject, data, reply, at),
        behind: () => this.clock.markBehind(),
        ensureConsumer: () => this.ensureConsumer(),
      },
      this.logger,
    );
    this.feed.start();
    this.timers.push(setInterval(() => this.ack(), ACK_EVERY_MS));
    this.timers.push(setInterval(() => void this.probe(), 1000));
    for (const t of this.timers) t.unref();
    await this.probe();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    this.feed?.stop();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
    this.ack();
  }

  /** Creates this monitor's durable consumer unless it exists. */
  private async ensureConsumer(): Promise<void> {
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
  }

  private receive(subject: string, data: Uint8Array, reply: string, at: AckPosition): void {
    if (this.stopped) return;
    const d: Delivery = {
      raw: { subject, data, seq: at.streamSeq, atMs: at.timeMs },
      reply,
      pending: at.pending,
    };
    // Usually none is parked: no look-up then.
    const queue = this.parked.size > 0 ? this.parked.get(subject) : undefined;
    if (queue) {
      this.acks.hold(d.raw.seq);
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
    this.acks.hold(d.raw.seq);
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
    this.logger.error(`heartbeat ${d.raw.seq} on ${d.raw.subject} failed: ${String(err)}`);
  }

  private done(d: Delivery): void {
    if (this.acks.done(d.raw.seq, d.reply) >= ACK_EVERY_MSGS) this.ack();
  }

  private ack(): void {
    const reply = this.acks.take();
    if (reply !== undefined) this.feed?.ack(reply);
  }

  /** Idle or after a hiccup: ask the server whether anything is left for this consumer. */
  private async probe(): Promise<void> {
    if (this.stopped || this.clock.isCurrent || !this.feed) return;
    try {
      const info = await this.jsm.consumers.info(this.names.heartbeatStream, this.name);
      if (info.num_pending === 0 && info.delivered.stream_seq <= this.sink.processedSeq) {
        this.clock.markCaughtUp();
      }
    } catch (err) {
      this.logger.warn(`heartbeat consumer ${this.name}: ${String(err)}`);
    }
  }
}
