import type { JetStreamClient } from "@nats-io/jetstream";
import { NodeEvent, encodeMessage } from "@konorkestra/proto";
import type { NodeEventInit } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { nodeEventKind, nodeEventSubject } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { Membership } from "./membership";
import type { MonitorMetrics } from "./metrics";
import type { TrackerEvent } from "./node-liveness";

interface Held {
  event: TrackerEvent;
  owner: string;
  dueMs: number;
}

/** Builds the wire `NodeEvent` of a tracker event. */
export function toNodeEvent(
  ev: TrackerEvent,
  monitorId: string,
  detectedAtMs: number,
): NodeEventInit {
  const hb = ev.body?.message;
  return {
    eventId: ev.id,
    group: ev.group,
    nodeId: ev.node,
    kind: nodeEventKind(ev.kind),
    detectedAtMs,
    // KON_HB's time of the last beat, never the sender's clock: a sent_at_ms of 0 or from a
    // skewed clock must not move the start of an outage (analytics starts a down there).
    lastSeenMs: ev.lastBeatAtMs || ev.atMs,
    lastHeartbeat: hb,
    reason: ev.reason,
    suspect: ev.suspect,
    monitorId,
  };
}

/**
 * Publishes node events to `kon.evt.<group>.node.<kind>` (stream KON_EVENTS) with
 * `Nats-Msg-Id` = the event's deterministic id, so the stream keeps one copy however many
 * monitors publish it. The owner of a node publishes at once; the others hold the event for the
 * handover time and publish it only if the owner they saw has dropped out of the membership
 * meanwhile (it crashed before it could).
 */
export class EventPublisher {
  private held: Held[] = [];
  private readonly inflight = new Set<Promise<void>>();

  constructor(
    private readonly js: JetStreamClient,
    private readonly names: WireNames,
    private readonly membership: Membership,
    private readonly handoverMs: number,
    private readonly metrics: MonitorMetrics,
    private readonly logger: Logger,
    private readonly localNow: () => number = Date.now,
  ) {}

  /** Publishes now if this monitor owns the node (or nobody does), else holds it. */
  submit(event: TrackerEvent): void {
    const owner = this.membership.owner(event.key);
    if (owner === undefined || owner === this.membership.self) {
      this.publish(event);
    } else {
      this.held.push({ event, owner, dueMs: this.localNow() + this.handoverMs });
    }
  }

  /** Publishes regardless of ownership: the caller holds an exclusive claim (Redis). */
  publish(event: TrackerEvent): void {
    const p = this.send(event).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Releases held events whose owner vanished; drops those an owner still alive has published. */
  tick(): void {
    if (this.held.length === 0) return;
    const now = this.localNow();
    const keep: Held[] = [];
    for (const h of this.held) {
      if (h.dueMs > now) keep.push(h);
      else if (!this.membership.isLive(h.owner)) this.publish(h.event);
    }
    this.held = keep;
  }

  /** Waits for publishes in flight (shutdown, tests). */
  async flush(): Promise<void> {
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private async send(event: TrackerEvent): Promise<void> {
    const subject = nodeEventSubject(this.names, event.group, event.kind);
    const data = encodeMessage(NodeEvent, toNodeEvent(event, this.membership.self, Date.now()));
    for (let attempt = 1; ; attempt++) {
      try {
        const ack = await this.js.publish(subject, data, { msgID: event.id });
        this.metrics.events.inc({
          kind: event.kind,
          result: ack.duplicate ? "duplicate" : "stored",
        });
        if (!ack.duplicate) this.logger.info(`${event.kind} ${event.key}: ${event.reason}`);
        return;
      } catch (err) {
        // Within the stream's duplicate window a retry is harmless; past a few tries, say so.
        if (attempt >= 5) {
          this.metrics.events.inc({ kind: event.kind, result: "failed" });
          this.logger.error(`cannot publish ${event.id}: ${String(err)}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * attempt));
      }
    }
  }
}
