import type { Logger } from "@konorkestra/sdk";
import { nodeKey, parseNodeKey } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { ExpiryOutcome, LivenessBackend } from "./backends/liveness-backend";
import type { DetectionClock } from "./detection-clock";
import type { EventPublisher } from "./event-publisher";
import type { HeartbeatHistory } from "./heartbeat-history";
import type { HeartbeatValidator, RawHeartbeat } from "./heartbeat-validator";
import type { Membership } from "./membership";
import type { MonitorMetrics } from "./metrics";
import type { NodeTracker } from "./node-tracker";
import type {
  DownCandidate,
  HeartbeatOutcome,
  NodeLiveness,
  TrackedHeartbeat,
  TrackerEvent,
} from "./node-liveness";
import type { TokenBuckets } from "./token-buckets";
import { ThrottledLog } from "./throttled-log";

/** What the engine is built from (wired by createMonitor). */
export interface EngineParts {
  names: WireNames;
  tracker: NodeTracker;
  clock: DetectionClock;
  validator: HeartbeatValidator;
  history: HeartbeatHistory;
  backend: LivenessBackend;
  publisher: EventPublisher;
  membership: Membership;
  limiter: TokenBuckets;
  /** Stopped nodes silent this long are forgotten. */
  forgetAfterMs: number;
  metrics: MonitorMetrics;
  logger: Logger;
}

/** How long a Redis-mode down waits for its deadline claim before it is reported anyway. */
const UNCLAIMED_AFTER_MS = 10_000;

/** Where an event came from; decides who may publish it. */
type Origin = "heartbeat" | "deadline" | "sweep";

const pick = (h: TrackedHeartbeat | null) =>
  h && { seq: h.seq, atMs: h.atMs, ttlMs: h.ttlMs, intervalMs: h.intervalMs };

/**
 * Connects the pieces: heartbeats from the consumer go through validation and the tracker;
 * deadlines are checked against KON_HB before a node is declared down; the store is written for
 * the nodes this monitor owns; events go to the publisher.
 */
export class LivenessEngine {
  /** Highest KON_HB sequence this monitor has processed. */
  processedSeq = 0;
  /** Redis: downs found by this monitor's own clock, waiting for the deadline claim. */
  private readonly waitingForClaim = new Map<string, { events: TrackerEvent[]; sinceMs: number }>();
  /** Redis: claims settled while this monitor's own check of the same down was still running. */
  private readonly claimedEarly = new Set<string>();
  private readonly deferred = new Set<string>();
  private readonly verifying = new Set<Promise<void>>();
  private readonly log: ThrottledLog;
  private gaugesAtMs = 0;
  private applyCount = 0;
  private forgotAtMs = Date.now();

  constructor(private readonly p: EngineParts) {
    this.log = new ThrottledLog(p.logger);
    p.tracker.onForget = (key) => {
      p.limiter.forget(key);
      p.backend.forget?.(key);
    };
  }

  /**
   * Applies one KON_HB message; `pending` is what the server still holds for the consumer.
   * Synchronous unless the beat's predecessor must be looked up in KON_HB (a gap): then it
   * returns a promise, and the caller must hold later beats until it settles (order matters).
   */
  onHeartbeat(raw: RawHeartbeat, pending: number): Promise<void> | undefined {
    const { tracker, clock, metrics } = this.p;
    clock.observe(raw.atMs, pending);
    this.processedSeq = Math.max(this.processedSeq, raw.seq);
    const v = this.p.validator.validate(raw);
    if (!v.ok) {
      metrics.rejected.inc({ reason: v.reason });
      this.log.warn(v.reason, `dropped heartbeat on ${raw.subject} (seq ${raw.seq}): ${v.detail}`);
      return undefined;
    }
    const key = v.hb.key ?? nodeKey(v.hb.group, v.hb.node);
    for (const flag of v.flags) {
      metrics.flagged.inc({ flag });
      this.log.warn(
        flag,
        `heartbeat of ${key} flagged ${flag}` +
          (flag === "clock_skew" ? ` (${v.hb.skewMs} ms)` : ""),
      );
    }
    if (!this.p.limiter.allow(key, raw.atMs, v.hb.slot)) {
      metrics.rejected.inc({ reason: "flood" });
      this.log.warn("flood", `rate-limited heartbeats of ${key} (seq ${raw.seq})`);
      return undefined;
    }
    const out = tracker.heartbeat(v.hb, clock.nowMs(), clock.wallMs());
    if (out.kind !== "needs-predecessor") return void this.applied(key, v.hb, out);
    return this.retry(() => this.p.history.before(raw.subject, raw.seq)).then((before) => {
      this.applied(key, v.hb, tracker.heartbeat(v.hb, clock.nowMs(), clock.wallMs(), pick(before)));
    });
  }

  private applied(key: string, hb: TrackedHeartbeat, out: HeartbeatOutcome): void {
    if (out.kind === "capped") {
      this.p.metrics.capped.inc({ cap: "tracked_nodes" });
      this.log.warn(
        "capped",
        `not tracking ${key}: the monitor tracks its most nodes, all beating`,
      );
      return;
    }
    if (out.kind !== "accepted") {
      this.p.metrics.duplicates.inc();
      return;
    }
    // Counted here, added to the metric once per sweep: a labelled inc per beat is measurable.
    this.applyCount += 1;
    if (this.waitingForClaim.size > 0) this.waitingForClaim.delete(key);
    if (this.claimedEarly.size > 0) this.claimedEarly.delete(key);
    for (const ev of out.events) this.emit(ev, out.node, "heartbeat");
    // A replayed heartbeat that has already expired must not make the node look alive in the
    // store, nor may a leaving one (its left tombstone is the record).
    const clock = this.p.clock;
    const backend = this.p.backend;
    if (
      !hb.leaving &&
      backend.wantsRefresh?.(out.node) !== false &&
      clock.wallMs() - hb.atMs < hb.ttlMs &&
      this.owns(key)
    ) {
      backend.refresh(out.node, hb.body.bytes);
    }
  }

  /** One sweep: release held events, judge passed deadlines. Verifications run in parallel. */
  sweep(): void {
    const { tracker, clock, metrics, publisher } = this.p;
    publisher.tick();
    if (this.applyCount > 0) metrics.heartbeats.inc({ source: "stream" }, this.applyCount);
    this.applyCount = 0;
    this.flushUnclaimed();
    metrics.current.set(clock.isCurrent ? 1 : 0);
    metrics.clockLag.set(Math.max(0, clock.wallMs() - clock.nowMs()));
    metrics.members.set(this.p.membership.members().length);
    this.updateNodeGauge();
    this.forgetSilent();
    const now = clock.nowMs();
    const { candidates, events } = tracker.due(now);
    for (const ev of events) this.emit(ev, tracker.get(ev.key)!, "sweep");
    for (const c of candidates) {
      const p = this.verify(c, now)
        .then((events) => {
          for (const ev of events) this.emit(ev, tracker.get(ev.key)!, "deadline");
        })
        .catch((err: unknown) => {
          this.log.warn("verify", `cannot check ${c.key} against KON_HB: ${String(err)}`);
          tracker.postpone(c.key, c.lastSeq, now + 500);
        })
        .finally(() => this.verifying.delete(p));
      this.verifying.add(p);
    }
    if (clock.isCurrent && this.deferred.size > 0) {
      for (const key of [...this.deferred]) {
        this.deferred.delete(key);
        // Not awaited, so it must not reject unhandled (that ends the process): a look-up that
        // fails (KON_HB timing out under load) is judged again at the next sweep.
        this.onExpiry(key).catch((err: unknown) => {
          this.log.warn("expiry", `cannot judge the expiry of ${key}: ${String(err)}`);
          this.deferred.add(key);
        });
      }
    }
  }

  /** Nodes restored as expired with no heartbeat since: look their last one up (once current). */
  async resolveUnverified(): Promise<void> {
    const { tracker, names } = this.p;
    for (const key of tracker.unverifiedKeys()) {
      const node = tracker.get(key)!;
      const last = await this.retry(() =>
        this.p.history.last(names.heartbeatSubject(node.group, node.node)),
      );
      tracker.resolveUnverified(key, pick(last));
    }
  }

  /**
   * A key the store says expired (NATS marker, claimed Redis deadline). The tracker's view wins:
   * a node it knows to be beating is left alone; one it has never seen is looked up in KON_HB.
   */
  async onExpiry(key: string): Promise<ExpiryOutcome> {
    const { tracker, clock, names } = this.p;
    const now = clock.nowMs();
    if (!clock.isCurrent) {
      // Behind or disconnected: judge later, by a clock that has caught up.
      if (this.p.backend.kind === "nats") this.deferred.add(key);
      return { outcome: "alive", deadlineMs: now + 1000 };
    }
    const address = parseNodeKey(key);
    if (!address) return { outcome: "unknown" }; // not a key the monitor writes
    let node = tracker.get(key);
    const subject = names.heartbeatSubject(address.group, address.node);
    if (!node || node.unverified) {
      const last = await this.p.history.last(subject);
      if (!last) return { outcome: "unknown" };
      if (!node)
        tracker.seed({
          group: last.group,
          node: last.node,
          status: "up",
          lastSeq: last.seq,
          lastAtMs: last.atMs,
          ttlMs: last.ttlMs,
          intervalMs: last.intervalMs,
          allowedMisses: last.allowedMisses,
          body: last.body,
        });
      else tracker.resolveUnverified(key, pick(last));
      node = tracker.get(key)!;
    }
    const deadline = tracker.deadlineOf(node);
    if (node.alive && now < deadline) {
      // Infinity while the monitor is blind: ask again in a second.
      return { outcome: "alive", deadlineMs: Number.isFinite(deadline) ? deadline : now + 1000 };
    }
    const found = node.alive
      ? await this.verify({ key, lastSeq: node.lastSeq, deadlineMs: node.deadlineMs }, now)
      : [];
    const after = tracker.get(key)!;
    if (after.alive) return { outcome: "alive", deadlineMs: Math.max(now + 100, after.deadlineMs) };
    const parked = this.waitingForClaim.get(key)?.events ?? [];
    this.waitingForClaim.delete(key);
    if (!this.p.backend.claimsDowns) {
      for (const ev of found) this.emit(ev, after, "deadline");
      return { outcome: "down" };
    }
    // Our own sweep may have expired the node and not yet parked its down: let it publish.
    if (parked.length === 0 && found.length === 0) this.claimedEarly.add(key);
    for (const ev of [...parked, ...found]) this.reportClaimed(ev, after);
    return { outcome: "down" };
  }

  /** Waits for verifications in flight (shutdown, tests). */
  async settle(): Promise<void> {
    while (this.verifying.size > 0) await Promise.allSettled([...this.verifying]);
  }

  /**
   * A candidate is down only if KON_HB holds no later heartbeat of the node stored by its
   * deadline. A later one stored in time is either still on its way to this monitor (check
   * again shortly) or was passed over (rate limit): then it is applied now.
   */
  private async verify(c: DownCandidate, now: number): Promise<TrackerEvent[]> {
    const { tracker, names, clock, metrics } = this.p;
    const node = tracker.get(c.key);
    if (!node || node.lastSeq !== c.lastSeq || !node.alive) return [];
    const next = await this.p.history.next(
      names.heartbeatSubject(node.group, node.node),
      c.lastSeq,
    );
    if (next && next.atMs <= tracker.deadlineOf(node)) {
      metrics.postponed.inc();
      if (next.seq > this.processedSeq) {
        tracker.postpone(c.key, c.lastSeq, now + 100);
        return [];
      }
      const out = tracker.heartbeat(next, clock.nowMs(), clock.wallMs(), null);
      return out.kind === "accepted" ? out.events : [];
    }
    const events = tracker.expire(c.key, c.lastSeq, now);
    if (events.length > 0) metrics.detectionDelay.observe(Math.max(0, now - c.deadlineMs));
    return events;
  }

  private emit(ev: TrackerEvent, node: NodeLiveness, origin: Origin): void {
    if (origin === "deadline" && this.p.backend.claimsDowns) {
      // Redis: the monitor that claims the deadline in the store reports and records it (see
      // onExpiry); recording now would take the deadline out of the store before its claim.
      if (this.claimedEarly.delete(ev.key)) return this.reportClaimed(ev, node);
      const w = this.waitingForClaim.get(ev.key) ?? { events: [], sinceMs: Date.now() };
      w.events.push(ev);
      this.waitingForClaim.set(ev.key, w);
      return;
    }
    if (this.owns(ev.key)) void this.p.backend.record(ev, node);
    this.p.publisher.submit(ev);
  }

  /** Holding the store's claim is the right to report and record, owner or not. */
  private reportClaimed(ev: TrackerEvent, node: NodeLiveness): void {
    void this.p.backend.record(ev, node);
    this.p.publisher.publish(ev);
  }

  /** Once a minute: stopped nodes silent longer than `forgetAfterMs` leave memory. */
  private forgetSilent(): void {
    const now = Date.now();
    if (now - this.forgotAtMs < 60_000) return;
    this.forgotAtMs = now;
    const gone = this.p.tracker.forgetSilent(this.p.clock.wallMs() - this.p.forgetAfterMs);
    if (gone.length > 0) this.p.metrics.capped.inc({ cap: "forgotten_nodes" }, gone.length);
  }

  /** Nodes by status, at most once a second (a scan of every node). */
  private updateNodeGauge(): void {
    const now = Date.now();
    if (now - this.gaugesAtMs < 1000) return;
    this.gaugesAtMs = now;
    for (const [status, n] of Object.entries(this.p.tracker.countByStatus())) {
      this.p.metrics.nodes.set({ status }, n);
    }
  }

  /**
   * Redis: downs whose claim never reached this monitor. Usually another monitor claimed and
   * recorded them; if not (the deadline never made it into the store), report them the usual way.
   */
  private flushUnclaimed(): void {
    if (this.waitingForClaim.size === 0) return;
    const cutoff = Date.now() - UNCLAIMED_AFTER_MS;
    for (const [key, w] of this.waitingForClaim) {
      if (w.sinceMs > cutoff) continue;
      this.waitingForClaim.delete(key);
      void this.reportUnclaimed(key, w.events);
    }
  }

  private async reportUnclaimed(key: string, events: TrackerEvent[]): Promise<void> {
    for (const ev of events) {
      const recorded = await this.p.backend.hasRecorded(ev).catch(() => false);
      if (recorded) continue;
      const node = this.p.tracker.get(key);
      if (node && this.owns(key)) await this.p.backend.record(ev, node);
      this.p.publisher.submit(ev);
    }
  }

  /** Writes to the store are the owner's (while no monitor has joined, one of the live ones). */
  private owns(key: string): boolean {
    return this.p.membership.owner(key) === this.p.membership.self;
  }

  /** Look-ups in KON_HB must not be skipped: retry until they answer (NATS may be reconnecting). */
  private async retry<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        this.log.warn("history", `KON_HB look-up failed (attempt ${attempt}): ${String(err)}`);
        await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
      }
    }
  }
}
