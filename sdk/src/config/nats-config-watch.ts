import { AckPolicy, DeliverPolicy, jetstreamManager } from "@nats-io/jetstream";
import type { ConsumerConfig, JetStreamManager } from "@nats-io/jetstream";
import { randomBytes } from "node:crypto";
import { createInbox } from "@nats-io/transport-node";
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "../logger";
import { parseAckSubject } from "../wire/ack-subject";
import { NatsHeader } from "../wire/headers";
import { kvSubjectPrefix } from "../wire/names";
import { changeFromKvMessage } from "./kv-message";
import type { RawChange } from "./raw-change";

/** What the watch hands on, in stream order. */
export interface WatchListener {
  /** The bucket's current state after a (re)load; `reset` when the stream was re-created. */
  loaded(changes: RawChange[], reset: boolean): void;
  live(change: RawChange): void;
}

/** Timing of stall detection, in milliseconds. */
export interface WatchTiming {
  /** Server idle heartbeat on the consumer. @default 300 */
  heartbeatMs: number;
  /** Silence (no message, no heartbeat) after which the consumer is re-created (three missed heartbeats). @default 900 */
  stallMs: number;
  /** How often the stream's last revision is compared with the delivered one. @default 500 */
  checkMs: number;
  /** How long the watch may stay behind the stream without progress. @default 1000 */
  behindMs: number;
  /** Timeout of each JetStream API request of the watch. @default 2000 */
  requestTimeoutMs: number;
}

const DEFAULT_TIMING: WatchTiming = {
  heartbeatMs: 300,
  stallMs: 900,
  checkMs: 500,
  behindMs: 1000,
  requestTimeoutMs: 2000,
};
const TICK_MS = 250;
const ns = (ms: number): number => ms * 1_000_000;

/**
 * The one watch of a connection on a config bucket: an ordered push consumer on the KV stream,
 * managed here rather than by `kv.watch()` because the SDK needs the message headers (change
 * sets) and must notice a lost or stalled consumer in well under the library's ~67 s.
 *
 * First load: deliver "last per subject" and collect until the server reports nothing pending.
 * Afterwards every message is handed on in stream order. A consumer-sequence gap, a status error,
 * heartbeat silence, a reconnect, or a stream last revision that stays ahead without progress
 * re-creates the consumer from the last revision handed on + 1; duplicates are dropped by
 * revision. A stream that was re-created (new creation time, or a lower last sequence) is
 * reloaded from scratch.
 */
export class NatsConfigWatch {
  readonly stream: string;
  private readonly subjectPrefix: string;
  private readonly t: WatchTiming;
  private jsm: JetStreamManager | undefined;
  private sub: Subscription | undefined;
  private consumer = "";
  /** Name of the consumer this watch created last: the only one whose deliveries it takes. */
  private expectedConsumer = "";
  private lastSeq = 0;
  private cseq = 0;
  private loading = true;
  private resetting = false;
  private buffer: RawChange[] = [];
  private lastActivity = 0;
  private lastContact: number | undefined;
  private lastCheck = 0;
  private streamCreated = "";
  private behind: { since: number; seq: number } | undefined;
  private connected = true;
  private recreating: Promise<void> | undefined;
  private recreateAgain: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private lastError = "";
  /** Consumers created after the first one (for logs and tests). */
  recreations = 0;

  constructor(
    private readonly nc: NatsConnection,
    readonly bucket: string,
    private readonly listener: WatchListener,
    private readonly logger: Logger,
    timing: Partial<WatchTiming> = {},
  ) {
    this.stream = `KV_${bucket}`;
    this.subjectPrefix = kvSubjectPrefix(bucket);
    this.t = { ...DEFAULT_TIMING, ...timing };
  }

  /** Highest revision handed on (loaded or live). */
  get deliveredRevision(): number {
    return this.lastSeq;
  }

  /**
   * Last time the server showed this watch current: an in-order delivery, an idle heartbeat that
   * reports no missed delivery, or the creation of its consumer with nothing pending. Undefined before the first.
   * (Unlike the stall timer's clock, never set by the client itself.)
   */
  get lastServerContactMs(): number | undefined {
    return this.lastContact;
  }

  /** Server-side name of the current consumer ("" while there is none). */
  get consumerName(): string {
    return this.consumer;
  }

  /** Creates the first consumer; failures are retried by the health timer, not thrown. */
  async start(): Promise<void> {
    this.jsm = await jetstreamManager(this.nc, {
      timeout: this.t.requestTimeoutMs,
      checkAPI: false,
    });
    this.timer = setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
    void this.watchStatus();
    this.requestRecreate("start");
    await this.recreating;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    const name = this.consumer;
    this.dropSubscription();
    await this.recreating?.catch(() => undefined);
    if (name && !this.nc.isClosed()) await this.deleteConsumer(name);
  }

  /** Revision of the newest message of `key` in the stream (one direct get); 0 if none. */
  async latestRevision(key: string): Promise<number> {
    const msg = await this.api().direct.getMessage(this.stream, {
      last_by_subj: this.subjectPrefix + key,
    });
    return msg?.seq ?? 0;
  }

  /** Runs the revision check now instead of at the next interval. */
  checkNow(): void {
    this.lastCheck = 0;
    this.tick();
  }

  private api(): JetStreamManager {
    if (!this.jsm) throw new Error("config watch not started");
    return this.jsm;
  }

  private async createConsumer(): Promise<void> {
    const jsm = this.api();
    const info = await jsm.streams.info(this.stream);
    if (this.streamCreated && info.created !== this.streamCreated) {
      this.beginReset("the stream was re-created");
    } else if (info.state.last_seq < this.lastSeq) {
      this.beginReset(`the stream went back to revision ${info.state.last_seq}`);
    }
    this.streamCreated = info.created;
    // Under the connection's inbox prefix: a member may subscribe nowhere else. (The prefix is
    // on the connection's options, which nats.js's own consumers read the same way.)
    const { inboxPrefix } = (this.nc as NatsConnection & { options: { inboxPrefix?: string } })
      .options;
    const inbox = createInbox(inboxPrefix);
    const sub: Subscription = this.nc.subscribe(inbox, {
      // A refused subscription (permission violation) comes here as an error, with no message.
      callback: (err, msg) => {
        if (err) this.noteError("subscription", err);
        else this.onMessage(sub, msg);
      },
    });
    this.sub = sub;
    this.cseq = 0;
    // Named before it exists, so its first deliveries (which can beat the create reply) are known.
    const name = `kon_watch_${randomBytes(9).toString("hex")}`;
    this.expectedConsumer = name;
    try {
      const ci = await jsm.consumers.add(this.stream, { ...this.consumerConfig(inbox), name });
      if (this.sub !== sub) {
        await this.deleteConsumer(ci.name);
        return;
      }
      this.consumer = ci.name;
      this.lastActivity = Date.now();
      // Current only if nothing waits for delivery (after an outage, missed changes may).
      if (ci.num_pending === 0) this.lastContact = this.lastActivity;
      if (this.loading && this.cseq === 0 && ci.num_pending === 0) this.finishLoading();
    } catch (err) {
      sub.unsubscribe();
      if (this.sub === sub) this.sub = undefined;
      throw err;
    }
  }

  private consumerConfig(inbox: string): Partial<ConsumerConfig> {
    const start =
      this.loading && this.lastSeq === 0
        ? { deliver_policy: DeliverPolicy.LastPerSubject }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: this.lastSeq + 1 };
    return {
      ...start,
      description: "konorkestra config watch",
      deliver_subject: inbox,
      filter_subject: `${this.subjectPrefix}>`,
      ack_policy: AckPolicy.None,
      flow_control: true,
      idle_heartbeat: ns(this.t.heartbeatMs),
      mem_storage: true,
      num_replicas: 1,
      // Lost interest (this process gone) removes the consumer on the server.
      inactive_threshold: ns(5000),
    };
  }

  private onMessage(sub: Subscription, msg: Msg): void {
    if (sub !== this.sub || this.stopped) return;
    this.lastActivity = Date.now();
    const h = msg.headers;
    if (h && h.code !== 0) {
      this.onStatus(msg, h);
      return;
    }
    const pos = parseAckSubject(msg.reply);
    if (!pos) {
      this.noteError("delivery", new Error(`unexpected reply subject ${String(msg.reply)}`));
      return;
    }
    // Only this watch's consumer on this group's bucket may deliver here. A consumer's deliver
    // subject is not checked by the server, so another group's member could point one at this
    // inbox; its messages carry another stream's subject and ack reply, and are dropped.
    if (!msg.subject.startsWith(this.subjectPrefix) || !this.ownDelivery(msg.reply!)) {
      this.noteError(
        "delivery",
        new Error(`a message from outside this watch (${msg.subject}) was dropped`),
      );
      return;
    }
    if (pos.consumerSeq !== this.cseq + 1) {
      this.requestRecreate(`consumer sequence gap (${this.cseq} → ${pos.consumerSeq})`);
      return;
    }
    this.cseq = pos.consumerSeq;
    this.lastContact = this.lastActivity;
    if (pos.streamSeq <= this.lastSeq) return; // overlap after a re-creation
    this.lastSeq = pos.streamSeq;
    const change = changeFromKvMessage(this.subjectPrefix, msg.subject, h, msg.data, pos.streamSeq);
    if (this.loading) {
      this.buffer.push(change);
      if (pos.pending === 0) this.finishLoading();
    } else {
      this.listener.live(change);
    }
  }

  /** `$JS.ACK.[<domain>.<account>.]<stream>.<consumer>.…` names this watch's consumer. */
  private ownDelivery(reply: string): boolean {
    return reply.includes(`.${this.stream}.${this.expectedConsumer}.`);
  }

  private onStatus(msg: Msg, h: MsgHdrs): void {
    if (h.code !== 100) {
      this.requestRecreate(`consumer status ${h.code} ${h.description}`);
      return;
    }
    if (msg.reply) this.nc.publish(msg.reply); // flow-control request
    const stalled = h.get(NatsHeader.ConsumerStalled);
    if (stalled) this.nc.publish(stalled);
    const serverSeq = Number(h.get(NatsHeader.LastConsumer) || "0");
    if (serverSeq > this.cseq) {
      this.requestRecreate(`missed deliveries (server at ${serverSeq}, received ${this.cseq})`);
    } else if (!stalled) {
      this.lastContact = this.lastActivity;
    }
  }

  private finishLoading(): void {
    const changes = this.buffer;
    const reset = this.resetting;
    this.buffer = [];
    this.loading = false;
    this.resetting = false;
    this.listener.loaded(changes, reset);
  }

  private beginReset(why: string): void {
    this.logger.warn(`config watch on ${this.bucket}: ${why}; reloading every key`);
    this.lastSeq = 0;
    this.loading = true;
    this.resetting = true;
    this.buffer = [];
    this.behind = undefined;
  }

  private tick(): void {
    if (this.stopped || !this.connected || this.recreating || !this.jsm) return;
    const now = Date.now();
    if (now - this.lastActivity > this.t.stallMs) {
      this.requestRecreate(`no message or heartbeat for ${now - this.lastActivity} ms`);
      return;
    }
    if (now - this.lastCheck >= this.t.checkMs) {
      this.lastCheck = now;
      void this.checkBehind();
    }
  }

  /** Compares the stream's newest revision (one direct get) with the one handed on. */
  private async checkBehind(): Promise<void> {
    try {
      const last = await this.api().direct.getMessage(this.stream, {
        last_by_subj: `${this.subjectPrefix}>`,
      });
      const seq = last?.seq ?? 0;
      if (seq < this.lastSeq) {
        // A re-created or purged stream; createConsumer tells them apart with the stream info.
        this.requestRecreate(`stream newest revision ${seq} is below ${this.lastSeq}`);
      } else if (seq > this.lastSeq) {
        const now = Date.now();
        if (!this.behind || this.behind.seq !== this.lastSeq) {
          this.behind = { since: now, seq: this.lastSeq };
          // Behind may just be in flight; a consumer that is gone needs no more waiting.
          const name = this.consumer;
          if (name && !(await this.consumerExists(name)) && this.consumer === name) {
            this.requestRecreate(`consumer ${name} is gone`);
          }
        } else if (now - this.behind.since >= this.t.behindMs) {
          this.behind = undefined;
          this.requestRecreate(`stalled at revision ${this.lastSeq} while the stream is at ${seq}`);
        }
      } else {
        this.behind = undefined;
      }
    } catch (err) {
      this.noteError("revision check", err);
    }
  }

  private async consumerExists(name: string): Promise<boolean> {
    try {
      await this.api().consumers.info(this.stream, name);
      return true;
    } catch (err) {
      // Only a definite "not found" counts; a timeout says nothing about the consumer.
      return !/consumer not found/i.test(String(err));
    }
  }

  private requestRecreate(reason: string): void {
    if (this.stopped) return;
    if (this.recreating) {
      this.recreateAgain = reason;
      return;
    }
    this.recreating = this.recreateLoop(reason).finally(() => {
      this.recreating = undefined;
    });
  }

  private async recreateLoop(first: string): Promise<void> {
    let why: string | undefined = first;
    while (why !== undefined && !this.stopped) {
      this.recreateAgain = undefined;
      const old = this.consumer;
      this.consumer = "";
      this.dropSubscription();
      if (why !== "start") {
        this.logger.info(
          `config watch on ${this.bucket}: re-creating its consumer (${why}); resuming after revision ${this.lastSeq}`,
        );
      }
      try {
        await this.createConsumer();
        if (why !== "start") this.recreations++;
        this.lastError = "";
      } catch (err) {
        // The health timer tries again once the silence threshold has passed.
        this.noteError("consumer creation", err);
        this.lastActivity = Date.now() - this.t.stallMs + TICK_MS;
        return;
      } finally {
        if (old) void this.deleteConsumer(old);
      }
      why = this.recreateAgain;
    }
  }

  private async watchStatus(): Promise<void> {
    for await (const s of this.nc.status()) {
      if (this.stopped) break;
      if (s.type === "disconnect") this.connected = false;
      if (s.type === "reconnect") {
        this.connected = true;
        this.requestRecreate("reconnected");
      }
    }
  }

  private dropSubscription(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  private async deleteConsumer(name: string): Promise<void> {
    await this.jsm?.consumers.delete(this.stream, name).catch(() => undefined);
  }

  private noteError(what: string, err: unknown): void {
    const text = `config watch on ${this.bucket}: ${what} failed: ${String(err)}`;
    if (text === this.lastError) return;
    this.lastError = text;
    this.logger.warn(text);
  }
}
