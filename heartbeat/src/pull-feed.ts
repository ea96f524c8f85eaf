import { createInbox } from "@nats-io/transport-node";
import type { Msg, MsgHdrs, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import {
  bytesContain,
  parseAckSubject,
  parseAckSubjectBytes,
  wireReader,
} from "@konorkestra/sdk/internal";
import type { WireMsg } from "@konorkestra/sdk/internal";

/** Where a delivery sits in the stream, read from its ack subject. */
export type AckPosition = NonNullable<ReturnType<typeof parseAckSubject>>;

const NS = 1_000_000;
const ACK_BYTES = new TextEncoder().encode("+ACK");
const PENDING_MSGS = "Nats-Pending-Messages";

/** How a pull feed asks for messages. */
export interface PullFeedOptions {
  /** Messages asked for at most at any time (the sum over open pull requests). */
  maxMessages: number;
  /** Asks for more once fewer than this many are still owed. */
  refillBelow: number;
  /** Life of one pull request on the server (long requests only). */
  expiresMs: number;
  /**
   * Long requests: the server sends a status this often while a request has nothing to deliver.
   * Both modes: nothing heard for twice this long means the requests (or the consumer) are gone.
   */
  idleHeartbeatMs: number;
  /**
   * 0: one long request, each message sent as it reaches the stream. Above 0: every this many
   * ms one request for what is waiting (`no_wait`, up to `maxMessages`), asked again at once
   * while a batch comes back full; the server then writes a poll's messages together.
   */
  pollMs?: number;
}

/** What a feed hands over, and what it reports. */
export interface PullFeedSink {
  /** One delivered message with its position read from the ack subject. */
  message(subject: string, data: Uint8Array, reply: string, at: AckPosition): void;
  /** The feed may have missed time (idle heartbeats missed, reconnect, consumer gone). */
  behind(reason: string): void;
  /** The consumer is gone or unreachable: make sure it exists before the feed asks again. */
  ensureConsumer(): Promise<void>;
}

/**
 * Reads a durable pull consumer through a core subscription on an inbox of its own: pull requests
 * (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`) are published here, deliveries are handed
 * over as they arrive with the position parsed from their ack subject, and the server's status
 * messages (100 idle heartbeat, 408 request expired, 409, 503) are handled here. This replaces
 * nats.js' `consume()`, whose per-message `JsMsg`, status checks and pull bookkeeping were about
 * a third of the monitor's CPU at 10,000 heartbeats/s.
 *
 * Deliveries are read straight from the bytes where the connection allows it (the sdk's
 * `wireReader` tap): subject decoded from the wire, position read from the ack subject's bytes,
 * payload a view; nats.js builds no `Msg` for them. Status messages and anything else on the inbox
 * still come through nats.js and the subscription's callback, as they do everywhere when the
 * connection lacks nats.js' internals.
 *
 * With `pollMs` it asks for what is waiting every so often instead of holding one long request:
 * the server then sends a poll's messages back to back, so many arrive in one read and are
 * handled together (when the connection coalesces its reads), rather than one or two per read.
 */
export class PullFeed {
  private sub: Subscription | undefined;
  private inbox = "";
  /** Messages the open pull requests may still deliver. */
  private owed = 0;
  private lastHeardMs = Date.now();
  private watchdog: NodeJS.Timeout | undefined;
  private recovering = false;
  private stopped = false;
  private status: { stop?: () => void } | undefined;
  private poller: NodeJS.Timeout | undefined;
  /** Poll mode: a request is open (owed counts what it may still deliver). */
  private asking = false;
  private readonly nextSubject: string;
  private readonly ownDelivery: string;
  private readonly ownDeliveryBytes: Buffer;
  private untap: (() => void) | undefined;
  private readonly pollMs: number;
  private readonly pollRequest: Uint8Array;

  constructor(
    private readonly nc: NatsConnection,
    private readonly stream: string,
    private readonly consumer: string,
    private readonly opts: PullFeedOptions,
    private readonly sink: PullFeedSink,
    private readonly logger: Logger,
  ) {
    this.nextSubject = `$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`;
    this.ownDelivery = `.${stream}.${consumer}.`;
    this.ownDeliveryBytes = Buffer.from(this.ownDelivery);
    this.pollMs = opts.pollMs ?? 0;
    this.pollRequest = new TextEncoder().encode(
      JSON.stringify({ batch: opts.maxMessages, no_wait: true }),
    );
  }

  start(): void {
    // Under the connection's inbox prefix, as nats.js' own consumers do: the service credential
    // may subscribe nowhere else.
    const { inboxPrefix } = (this.nc as NatsConnection & { options: { inboxPrefix?: string } })
      .options;
    this.inbox = createInbox(inboxPrefix);
    this.sub = this.nc.subscribe(this.inbox, { callback: (err, m) => this.onMessage(err, m) });
    this.untap = wireReader(this.nc)?.tap(this.sub, (m) => this.fromWire(m));
    this.lastHeardMs = Date.now();
    this.askAgain();
    this.watchdog = setInterval(() => this.checkHeard(), 1000);
    this.watchdog.unref();
    if (this.pollMs > 0) {
      this.poller = setInterval(() => this.poll(), this.pollMs);
      this.poller.unref();
    }
    void this.followConnection();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearInterval(this.poller);
    this.status?.stop?.();
    this.untap?.();
    this.sub?.unsubscribe();
  }

  /** True when deliveries are read from the bytes (nats.js' internals are as expected). */
  get tapped(): boolean {
    return this.untap !== undefined;
  }

  /** Acknowledges (AckAll) up to the message with this ack subject. */
  ack(reply: string): void {
    if (!this.nc.isClosed()) this.nc.publish(reply, ACK_BYTES);
  }

  private onMessage(err: Error | null, m: Msg): void {
    if (this.stopped) return;
    if (err) {
      this.logger.warn(`heartbeat feed ${this.consumer}: ${String(err)}`);
      this.sink.behind("subscription error");
      return;
    }
    this.lastHeardMs = Date.now();
    const reply = m.reply;
    const at = reply ? parseAckSubject(reply) : undefined;
    if (at) {
      // Only this consumer delivers here; anything else on the inbox is dropped.
      if (reply!.includes(this.ownDelivery)) this.delivered(m.subject, m.data, reply!, at);
      return;
    }
    const h = m.headers;
    if (h && h.code !== 0) this.onStatus(h);
  }

  /**
   * The tap: a JetStream delivery (its reply is an ack subject) is handled here from the bytes,
   * exactly as {@link onMessage} would; anything else (a status) is left to nats.js.
   */
  private fromWire(m: WireMsg): boolean {
    if (m.replyStart < 0) return false;
    const at = parseAckSubjectBytes(m.buf, m.replyStart, m.replyEnd);
    if (!at) return false;
    if (this.stopped) return true;
    this.lastHeardMs = Date.now();
    if (!bytesContain(m.buf, m.replyStart, m.replyEnd, this.ownDeliveryBytes)) return true;
    this.delivered(
      m.buf.toString("utf8", m.subjectStart, m.subjectEnd),
      m.buf.subarray(m.dataStart, m.dataEnd),
      m.buf.toString("utf8", m.replyStart, m.replyEnd),
      at,
    );
    return true;
  }

  private delivered(subject: string, data: Uint8Array, reply: string, at: AckPosition): void {
    if (this.owed > 0) this.owed -= 1;
    this.sink.message(subject, data, reply, at);
    if (this.pollMs === 0) {
      if (this.owed < this.opts.refillBelow) this.refill();
    } else if (this.owed === 0 && this.asking) {
      // A full batch: more is likely waiting (a backlog), so ask now rather than next poll.
      this.asking = false;
      this.poll();
    }
  }

  private onStatus(h: MsgHdrs): void {
    const code = h.code;
    if (code === 100) return; // idle heartbeat: the request is alive, nothing to deliver
    if (code === 408 || code === 404 || code === 409) {
      // The request ended; what it still owed comes with it (if not, assume nothing is owed).
      const left = Number(h.get(PENDING_MSGS));
      this.owed = Number.isFinite(left) && left > 0 ? Math.max(0, this.owed - left) : 0;
      if (code === 409 && /deleted|not found/i.test(h.description)) {
        this.recover(`consumer ${h.description}`);
        return;
      }
      if (code === 409) this.logger.warn(`heartbeat feed ${this.consumer}: 409 ${h.description}`);
      // Poll mode: 404 "No Messages" ends a poll that found the stream drained; the next poll asks.
      if (this.pollMs > 0) this.asking = false;
      else this.refill();
      return;
    }
    // 503 (no responders: JetStream or the consumer unavailable) and anything unknown.
    this.recover(`status ${code} ${h.description}`);
  }

  /** Asks from scratch (start, after recovery or a reconnect: open requests are forgotten). */
  private askAgain(): void {
    this.owed = 0;
    this.asking = false;
    if (this.pollMs > 0) this.poll();
    else this.refill();
  }

  /** Poll mode: asks for up to a batch of what is waiting, unless a poll is still open. */
  private poll(): void {
    if (this.asking || this.stopped || this.recovering || this.nc.isClosed()) return;
    this.asking = true;
    this.owed = this.opts.maxMessages;
    this.nc.publish(this.nextSubject, this.pollRequest, { reply: this.inbox });
  }

  /** Asks for as many messages as are not owed already. */
  private refill(): void {
    const batch = this.opts.maxMessages - this.owed;
    if (batch <= 0 || this.stopped || this.recovering || this.nc.isClosed()) return;
    this.owed += batch;
    const request = JSON.stringify({
      batch,
      expires: this.opts.expiresMs * NS,
      idle_heartbeat: this.opts.idleHeartbeatMs * NS,
    });
    this.nc.publish(this.nextSubject, request, { reply: this.inbox });
  }

  /** Nothing heard for two idle heartbeats: the requests (or the consumer) are gone. */
  private checkHeard(): void {
    if (Date.now() - this.lastHeardMs > 2 * this.opts.idleHeartbeatMs) {
      this.recover("idle heartbeats missed");
    }
  }

  /** Marks the reader behind, makes sure the consumer exists, and asks again from scratch. */
  private recover(reason: string): void {
    if (this.recovering || this.stopped) return;
    this.recovering = true;
    this.logger.warn(`heartbeat feed ${this.consumer}: ${reason}; asking again`);
    this.sink.behind(reason);
    void this.sink
      .ensureConsumer()
      .catch((err: unknown) =>
        this.logger.warn(`heartbeat consumer ${this.consumer}: ${String(err)}`),
      )
      .finally(() => {
        this.recovering = false;
        this.lastHeardMs = Date.now();
        this.askAgain();
      });
  }

  /** After a reconnect the server has forgotten the open requests: ask again. */
  private async followConnection(): Promise<void> {
    const status = this.nc.status();
    this.status = status as { stop?: () => void };
    for await (const s of status) {
      if (this.stopped) return;
      if (s.type === "reconnect") {
        this.lastHeardMs = Date.now();
        this.askAgain();
      }
    }
  }
}
