import { createInbox } from "@nats-io/transport-node";
import type { Msg, NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "@konorkestra/sdk";
import { NatsHeader, wireReader } from "@konorkestra/sdk/internal";
import type { WireMsg } from "@konorkestra/sdk/internal";
import { readHeader, readPullStatus } from "./pull-status";
import type { PullStatus } from "./pull-status";

/** A stored message delivered by the consumer (its reply subject is its ack subject). */
export type DeliveryHandler = (
  subject: string,
  reply: string,
  msgId: string | undefined,
  data: Uint8Array,
) => void;

export interface PullReaderOptions {
  nc: NatsConnection;
  stream: string;
  durable: string;
  /** Messages asked for per pull request; another is sent when less than half is owed. */
  batch: number;
  /** A pull request's life at the server; it ends with a 408 status and is replaced. */
  expiresMs: number;
  onMessage: DeliveryHandler;
  /** The consumer is gone (deleted, or replaced by a push consumer): re-create it. */
  onConsumerLost: (status: PullStatus) => void;
  logger: Logger;
}

/**
 * Reads a durable pull consumer by issuing the pull requests itself
 * (`$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>` with a batch, replies to one inbox) on a core
 * subscription whose deliveries are tapped off the wire (the sdk's `wireReader`, the one framing of
 * the connection's bytes, shared with any other tap on it): no message object per delivery, only
 * its subject, ack subject, payload and `Nats-Msg-Id`. Status messages are taken by the tap too.
 *
 * It keeps between half a batch and a batch and a half requested: the server sends no more than
 * the consumer's `max_ack_pending` unacknowledged, so that stays the back-pressure. Status
 * messages settle what is owed: 408/409/404 end a request (less what it still had pending), 100
 * is an idle heartbeat (answered when it is flow control). A lost request (server restart, a
 * status never seen) is noticed by silence longer than two heartbeats, or by a reconnect, and
 * replaced.
 */
export class PullReader {
  private sub: Subscription | undefined;
  private untap: (() => void) | undefined;
  private inbox = "";
  /** Messages asked for and not yet delivered or ended by a status. */
  private owed = 0;
  private lastHeardMs = Date.now();
  private watchdog: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private statusIter: { stop?: () => void } | undefined;
  private readonly heartbeatMs: number;

  constructor(private readonly opts: PullReaderOptions) {
    // The server wants the idle heartbeat shorter than the request's life.
    this.heartbeatMs = Math.max(500, Math.min(5_000, Math.floor(opts.expiresMs / 3)));
  }

  get subject(): string {
    return `$JS.API.CONSUMER.MSG.NEXT.${this.opts.stream}.${this.opts.durable}`;
  }

  /** True when deliveries bypass nats.js' message objects (its internals are as expected). */
  get tapped(): boolean {
    return this.untap !== undefined;
  }

  start(): void {
    const { nc } = this.opts;
    this.inbox = createInbox(
      (nc as unknown as { options?: { inboxPrefix?: string } }).options?.inboxPrefix,
    );
    this.sub = nc.subscribe(this.inbox, {
      callback: (err, m) => {
        if (!err) this.fromMsg(m);
      },
    });
    this.untap = wireReader(nc)?.tap(this.sub, (m) => this.fromWire(m));
    this.watchdog = setInterval(() => this.checkSilence(), this.heartbeatMs);
    void this.followReconnects();
    this.topUp();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.watchdog);
    clearTimeout(this.retryTimer);
    this.statusIter?.stop?.();
    this.untap?.();
    this.sub?.unsubscribe();
  }

  /** Forgets what was asked for and asks again (after the consumer was re-created). */
  restart(): void {
    this.owed = 0;
    this.topUp();
  }

  private topUp(): void {
    if (this.stopped || this.owed > this.opts.batch / 2) return;
    const body = JSON.stringify({
      batch: this.opts.batch,
      expires: this.opts.expiresMs * 1_000_000,
      idle_heartbeat: this.heartbeatMs * 1_000_000,
    });
    try {
      this.opts.nc.publish(this.subject, body, { reply: this.inbox });
      this.owed += this.opts.batch;
    } catch (err) {
      // Connection closing or closed: the watchdog or a reconnect asks again.
      this.opts.logger.warn(`pull request for ${this.opts.durable} not sent: ${String(err)}`);
    }
  }

  /** Takes every message of the inbox (deliveries and statuses); the payload stays a view. */
  private fromWire(m: WireMsg): boolean {
    const { buf } = m;
    const reply = m.replyStart >= 0 ? buf.toString("latin1", m.replyStart, m.replyEnd) : undefined;
    const headers =
      m.dataStart > m.headersStart ? buf.subarray(m.headersStart, m.dataStart) : undefined;
    const status = headers ? readPullStatus(headers) : undefined;
    if (status) {
      this.onStatus(status, reply);
      return true;
    }
    const msgId = headers ? readHeader(headers, NatsHeader.MsgId) || undefined : undefined;
    const subject = buf.toString("utf8", m.subjectStart, m.subjectEnd);
    this.onDelivery(subject, reply, msgId, buf.subarray(m.dataStart, m.dataEnd));
    return true;
  }

  /** The documented way, when the tap is not available. */
  private fromMsg(m: Msg): void {
    const h = m.headers;
    if (h && h.code > 0) {
      const pending = Number(h.get("Nats-Pending-Messages"));
      return this.onStatus(
        {
          code: h.code,
          description: h.description,
          pendingMessages: h.has("Nats-Pending-Messages") && pending >= 0 ? pending : undefined,
        },
        m.reply || undefined,
      );
    }
    this.onDelivery(m.subject, m.reply || undefined, h?.get(NatsHeader.MsgId) || undefined, m.data);
  }

  private onDelivery(
    subject: string,
    reply: string | undefined,
    msgId: string | undefined,
    data: Uint8Array,
  ): void {
    this.lastHeardMs = Date.now();
    if (reply === undefined) return; // not a consumer delivery: nothing to ack, nothing owed
    if (this.owed > 0) this.owed--;
    this.opts.onMessage(subject, reply, msgId, data);
    if (this.owed <= this.opts.batch / 2) this.topUp();
  }

  private onStatus(status: PullStatus, reply: string | undefined): void {
    this.lastHeardMs = Date.now();
    if (status.code === 100) {
      if (reply) this.opts.nc.publish(reply); // flow control wants an empty answer
      return;
    }
    // Any other status ends one request: what it still owed will not come.
    this.owed = Math.max(0, this.owed - (status.pendingMessages ?? this.owed));
    // 503: no responders, the consumer does not exist (any more).
    const lost =
      status.code === 503 ||
      (status.code === 409 && /consumer (is )?(deleted|push based)/i.test(status.description));
    if (lost) {
      this.opts.onConsumerLost(status);
      return;
    }
    if (status.code === 409) {
      // Exceeded MaxWaiting and the like: ask again, but not in a tight loop.
      this.opts.logger.warn(
        `${this.opts.durable}: pull ended: ${status.code} ${status.description}`,
      );
      clearTimeout(this.retryTimer);
      this.retryTimer = setTimeout(() => this.topUp(), this.heartbeatMs);
      return;
    }
    this.topUp();
  }

  private checkSilence(): void {
    if (Date.now() - this.lastHeardMs <= 2 * this.heartbeatMs + 1000) return;
    // Nothing heard for two heartbeats: the requests are gone (server restarted, status lost).
    this.lastHeardMs = Date.now();
    this.owed = 0;
    this.topUp();
  }

  private async followReconnects(): Promise<void> {
    const iter = this.opts.nc.status();
    this.statusIter = iter as unknown as { stop?: () => void };
    for await (const s of iter) {
      if (this.stopped) break;
      if (s.type === "reconnect") this.restart();
    }
  }
}
