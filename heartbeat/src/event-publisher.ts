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
  /** The owner when it was (last) held: the monitor expected to publish it. */
  owner: string;
  dueMs: number;
  /** When it was first held. */
  sinceMs: number;
}

/** A held event is published at the latest after this many handover times (nothing is lost). */
const MAX_HOLDS = 4;

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
 * monitors publish it; and so that in the normal case only one monitor publishes it at all:
 *
 * - the owner of a node publishes at once, when it has been a member for a lease (its view of
 *   who owns what agrees with the others');
 * - every other monitor, and one not (or not long) joined, holds the event for the handover
 *   time, then asks the membership again: now the owner itself → publish; the same owner as
 *   before, still alive → drop (it has published); another owner (the one it expected dropped
 *   out, or the membership changed) → hold again for that one; at the latest after
 *   {@link MAX_HOLDS} handover times → publish (nothing is lost);
 * - a monitor that is the only one alive publishes at once (nobody else could);
 * - a monitor whose view of the membership is stale (its own lease did not come back within a
 *   lease: it stalled) decides nothing until it is fresh again.
 *
 * While no monitor has joined (all behind), the membership still names exactly one owner per
 * node among the live monitors, so two monitors that are both behind do not both publish.
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

  /** Publishes now if this monitor is the settled owner of the node or alone, else holds it. */
  submit(event: TrackerEvent): void {
    const m = this.membership;
    const owner = m.owner(event.key);
    if ((owner === m.self && m.isSettled) || this.alone()) return this.publish(event);
    const now = this.localNow();
    this.held.push({ event, owner, dueMs: now + this.handoverMs, sinceMs: now });
  }

  /** Publishes regardless of ownership: the caller holds an exclusive claim (Redis). */
  publish(event: TrackerEvent): void {
    const p = this.send(event).finally(() => this.inflight.delete(p));
    this.inflight.add(p);
  }

  /** Events held now (tests, shutdown). */
  get heldCount(): number {
    return this.held.length;
  }

  /** Settles held events that are due (see the class comment); all of them when alone. */
  tick(): void {
    if (this.held.length === 0) return;
    const now = this.localNow();
    const alone = this.alone();
    const fresh = this.membership.isFresh;
    const keep: Held[] = [];
    for (const h of this.held) {
      const next = alone ? "publish" : this.settle(h, now, fresh);
      if (next === "publish") this.publish(h.event);
      else if (next !== "drop") keep.push(next);
    }
    this.held = keep;
  }

  /** What becomes of a held event now: published, dropped (its owner has it), or held on. */
  private settle(h: Held, now: number, fresh: boolean): Held | "publish" | "drop" {
    // Bounded: a view that stays stale (or an owner that keeps changing) must not lose the event;
    // at worst it is published twice and the stream keeps one copy.
    if (now - h.sinceMs >= MAX_HOLDS * this.handoverMs) return "publish";
    // Not due, or this monitor's view of the membership is stale (it just stalled): wait.
    if (h.dueMs > now || !fresh) return h;
    const owner = this.membership.owner(h.event.key);
    if (owner === this.membership.self) return "publish";
    if (owner === h.owner) return "drop";
    return { ...h, owner, dueMs: now + this.handoverMs };
  }

  /** No other monitor is alive, joined or not, by a fresh view. */
  private alone(): boolean {
    return this.membership.isFresh && this.membership.present().length === 1;
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
