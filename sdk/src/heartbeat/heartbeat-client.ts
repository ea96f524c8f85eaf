import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { jetstream } from "@nats-io/jetstream";
import type { NatsConnection, Status } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { AppliedRegistry } from "../applied-registry";
import type { Logger } from "../logger";
import type { WireNames } from "../wire/names";
import { buildHeartbeat, nextBeatSlot } from "./heartbeat-message";
import type { HeartbeatIdentity } from "./heartbeat-message";
import { MIN_INTERVAL_MS } from "./heartbeat-options";
import type { ResolvedHeartbeatOptions } from "./heartbeat-options";

/** What the heartbeat client needs from its {@link Konorkestra} (kept narrow: no import cycle). */
export interface HeartbeatHost {
  readonly group: string;
  readonly nodeId: string;
  readonly names: WireNames;
  readonly logger: Logger;
  readonly applied: AppliedRegistry;
  readonly options: { readonly service: string };
  /** Resolves once connected; rejects if closed first. */
  nats(): Promise<NatsConnection>;
}

/** A running heartbeat, as returned by {@link Konorkestra.heartbeat}. */
export interface HeartbeatHandle {
  /** Seq of the last beat handed to NATS; 0 before the first. Skipped beats take no seq. */
  readonly seq: number;
  /** Unix ms of the last beat handed to NATS, if any. */
  readonly lastSentAt: number | undefined;
  /** False once `stop()` was called. */
  readonly running: boolean;
  /** Random id of this process's heartbeat lineage, sent as `process.instance_id`. */
  readonly instanceId: string;
  readonly options: ResolvedHeartbeatOptions;
  /**
   * Sends a beat now, outside the schedule (after a big config change, say). Returns false when
   * it was not sent: stopped, offline, or the previous beat is under 100 ms old (no floods).
   */
  beatNow(): boolean;
  /**
   * Stops beating and sends one final beat with `leaving = true`, acknowledged by JetStream, so
   * the monitor records a clean leave rather than a failure. Idempotent; never throws.
   */
  stop(): Promise<void>;
}

/** Where a new heartbeat continues an earlier one of the same connection. */
export interface HeartbeatLineage {
  readonly instanceId: string;
  readonly seq: number;
}

/**
 * Publishes `Heartbeat` on `kon.hb.<group>.<node>` every `intervalMs`.
 *
 * - Regular beats use core `publish`: fire-and-forget is the cheapest, a beat is superseded by
 *   the next one anyway, and stream `KON_HB` captures them. The leaving beat goes through
 *   JetStream so `stop()` knows it was stored; that request reaches plain subscribers too, so
 *   without an ack (no KON_HB) it is logged, not sent twice.
 * - Beats follow the grid `start + k × interval` on the monotonic clock, so they do not drift
 *   and a stalled event loop gives one late beat rather than a burst.
 * - While disconnected no beat is built. nats.js 3.4 resets its outbound buffer at every dial
 *   attempt, so such beats would mostly vanish, and one published during the last dial would
 *   arrive late and stale. Skipped beats take no seq, so seq counts beats sent and a gap means
 *   one was lost on the way. On (re)connect a beat goes out at once and the grid restarts there.
 * - The timer is unref'd: heartbeats report on a process, they must not be what keeps it alive
 *   (the service's own work, and its NATS connection, do that).
 */
export class HeartbeatClient implements HeartbeatHandle {
  readonly instanceId: string;
  private seqNo: number;
  private sentAt: number | undefined;
  private lastBeatMono = -Infinity;
  private nc: NatsConnection | undefined;
  private connected = false;
  private stopped = false;
  private stopping: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private anchor = 0;
  private slot = 0;
  private statusIter: AsyncIterable<Status> | undefined;
  private lastError: string | undefined;
  private readonly subject: string;
  private readonly identity: HeartbeatIdentity;

  constructor(
    private readonly host: HeartbeatHost,
    readonly options: ResolvedHeartbeatOptions,
    lineage?: HeartbeatLineage,
  ) {
    // Continuing the lineage keeps (instance, seq) unique, so a second leave is not taken for a
    // duplicate of the first by monitors that derive event ids from the seq.
    this.instanceId = lineage?.instanceId ?? randomUUID();
    this.seqNo = lineage?.seq ?? 0;
    this.subject = host.names.heartbeatSubject(host.group, host.nodeId);
    this.identity = {
      group: host.group,
      nodeId: host.nodeId,
      intervalMs: options.intervalMs,
      allowedMisses: options.misses,
      serviceName: host.options.service,
      serviceVersion: options.serviceVersion,
      instanceId: this.instanceId,
      meta: { ...options.meta },
    };
  }

  get seq(): number {
    return this.seqNo;
  }

  get lastSentAt(): number | undefined {
    return this.sentAt;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Starts beating as soon as the host is connected. */
  start(): void {
    this.host.nats().then(
      (nc) => this.attach(nc),
      () => undefined, // closed before it ever connected: nothing to beat on
    );
  }

  beatNow(): boolean {
    if (this.stopped || performance.now() - this.lastBeatMono < MIN_INTERVAL_MS) return false;
    return this.beat();
  }

  stop(): Promise<void> {
    this.stopping ??= this.leave();
    return this.stopping;
  }

  private attach(nc: NatsConnection): void {
    if (this.stopped || nc.isClosed()) return;
    this.nc = nc;
    this.connected = true;
    void this.watchStatus(nc);
    this.restartGrid();
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    const iter = nc.status();
    this.statusIter = iter;
    for await (const s of iter) {
      if (this.stopped) break;
      if (s.type === "disconnect") {
        this.connected = false;
        this.clearTimer();
        this.host.logger.info(`heartbeats paused: disconnected from ${s.server}`);
      } else if (s.type === "reconnect") {
        this.connected = true;
        this.host.logger.info(`heartbeats resumed: reconnected to ${s.server}`);
        this.restartGrid();
      } else if (s.type === "close") {
        this.connected = false;
        this.clearTimer();
        break;
      }
    }
  }

  /** Beats now and lays the grid from this instant. */
  private restartGrid(): void {
    this.clearTimer();
    this.anchor = performance.now();
    this.slot = 0;
    // A flapping connection must not turn reconnects into a flood of beats.
    if (this.anchor - this.lastBeatMono >= MIN_INTERVAL_MS) this.beat();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || !this.connected) return;
    const now = performance.now();
    this.slot = nextBeatSlot(this.anchor, now, this.options.intervalMs, this.slot);
    const delay = this.anchor + this.slot * this.options.intervalMs - now;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.beat();
      this.schedule();
    }, delay);
    this.timer.unref();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One regular beat; false when skipped (offline or it could not be built). */
  private beat(): boolean {
    const nc = this.nc;
    if (this.stopped || !nc || !this.connected || nc.isClosed() || nc.isDraining()) return false;
    try {
      const seq = this.seqNo + 1;
      const { data, sentAtMs } = this.encode(seq, false);
      nc.publish(this.subject, data);
      this.markSent(seq, sentAtMs);
      return true;
    } catch (err) {
      this.reportError(err);
      return false;
    }
  }

  private async leave(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    (this.statusIter as { stop?: () => void } | undefined)?.stop?.();
    const nc = this.nc;
    if (!nc || !this.connected || nc.isClosed() || nc.isDraining()) {
      this.host.logger.info("heartbeats stopped while offline: no leaving beat sent");
      return;
    }
    const seq = this.seqNo + 1;
    let encoded: { data: Uint8Array; sentAtMs: number };
    try {
      encoded = this.encode(seq, true);
    } catch (err) {
      this.reportError(err);
      return;
    }
    this.markSent(seq, encoded.sentAtMs);
    try {
      await jetstream(nc).publish(this.subject, encoded.data, {
        timeout: this.options.leaveTimeoutMs,
      });
    } catch (err) {
      // The ack request was itself the beat: subscribers on the subject (monitors) have it even
      // without KON_HB or an ack, so sending it again would only make a duplicate.
      await nc.flush().catch(() => undefined);
      this.host.logger.warn(
        `leaving heartbeat sent but not acknowledged by JetStream (stream ${this.host.names.heartbeatStream}): ${String(err)}`,
      );
    }
  }

  private encode(seq: number, leaving: boolean): { data: Uint8Array; sentAtMs: number } {
    const sentAtMs = Date.now();
    const msg = buildHeartbeat(this.identity, {
      seq,
      sentAtMs,
      leaving,
      applied: this.host.applied.snapshot(),
    });
    return { data: encodeMessage(Heartbeat, msg), sentAtMs };
  }

  private markSent(seq: number, sentAtMs: number): void {
    this.seqNo = seq;
    this.sentAt = sentAtMs;
    this.lastBeatMono = performance.now();
    this.lastError = undefined;
  }

  /** Logs a failing beat once per distinct error, not once per interval. */
  private reportError(err: unknown): void {
    const text = String(err);
    if (text === this.lastError) return;
    this.lastError = text;
    this.host.logger.error(`heartbeat not sent: ${text}`);
  }
}
