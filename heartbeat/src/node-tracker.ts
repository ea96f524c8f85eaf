import { nodeEventId, nodeKey } from "@konorkestra/sdk/internal";
import type { NodeEventWord } from "@konorkestra/sdk/internal";
import { BlindWindows } from "./blind-windows";
import { DeadlineHeap } from "./deadline-heap";
import { MassFailureDetector } from "./mass-failure";
import type {
  DownCandidate,
  HeartbeatOutcome,
  NodeStatus,
  NodeLiveness,
  Predecessor,
  SeedRecord,
  TrackedHeartbeat,
  TrackerEvent,
  TrackerOptions,
} from "./node-liveness";
import type { NodeSlot } from "./node-slot";

type NodeState = {
  -readonly [K in keyof NodeLiveness]: NodeLiveness[K] extends readonly number[]
    ? number[]
    : NodeLiveness[K];
} & {
  /** Time of this node's earliest deadline entry in the heap; Infinity when it has none. */
  heapAtMs: number;
  /** Out of `nodes` (forgotten, evicted or replaced): a slot holding it must not use it. */
  removed: boolean;
  /** The slot that points here, let go when the node is removed (it would keep its last body). */
  slot: NodeSlot | undefined;
};

type Check = { kind: "deadline" | "flap-exit"; seq: number };

/** Shared "no events" (never mutated): most beats change nothing. */
const NO_EVENTS: TrackerEvent[] = [];

/**
 * Per-node liveness state machine (pure; time is passed in). Every decision is a function of the
 * heartbeats' server timestamps, so a monitor replaying a backlog after a restart decides what it
 * would have decided live, and several monitors decide alike.
 */
export class NodeTracker {
  private readonly nodes = new Map<string, NodeState>();
  private readonly groups = new Map<string, Set<NodeState>>();
  private readonly heap = new DeadlineHeap<Check>();
  private readonly mass: MassFailureDetector;
  /** Told of every node the tracker forgets (eviction), so other per-node tables follow. */
  onForget: (key: string) => void = () => undefined;
  /** Periods in which the monitor could not hear; they move deadlines (see BlindWindows). */
  readonly blind: BlindWindows;

  constructor(private readonly opts: TrackerOptions) {
    this.mass = new MassFailureDetector(opts.massFailurePct, opts.massFailureMinNodes);
    this.blind = new BlindWindows(opts.blindGraceMs ?? 2000);
  }

  /**
   * When `node` is overdue: its last beat + TTL, moved past the monitor's blind periods (Infinity
   * while the monitor is blind and the deadline fell into it).
   */
  deadlineOf(node: Pick<NodeLiveness, "lastAtMs" | "ttlMs">): number {
    return this.blind.deadline(node.lastAtMs, node.ttlMs);
  }

  get size(): number {
    return this.nodes.size;
  }

  get(key: string): NodeLiveness | undefined {
    return this.nodes.get(key);
  }

  /** Nodes, optionally of one group, sorted by key. */
  list(group?: string): NodeLiveness[] {
    const source = group === undefined ? this.nodes.values() : (this.groups.get(group) ?? []);
    return [...source].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** How many nodes are in each status. */
  countByStatus(): Record<NodeStatus, number> {
    const counts: Record<NodeStatus, number> = { up: 0, down: 0, left: 0, flapping: 0 };
    for (const n of this.nodes.values()) counts[n.status] += 1;
    return counts;
  }

  /** Keys seeded from an expired store entry whose last heartbeat is still unknown. */
  unverifiedKeys(): string[] {
    return [...this.nodes.values()].filter((n) => n.unverified).map((n) => n.key);
  }

  /** Restores a node from the liveness store (before any heartbeat is processed). */
  seed(rec: SeedRecord): void {
    const st = this.create(rec.group, rec.node);
    st.status = rec.status === "expired" ? "up" : rec.status;
    st.unverified = rec.status === "expired" || rec.lastSeq === undefined;
    st.alive = rec.alive ?? (rec.status === "up" || rec.status === "expired");
    st.lastSeq = rec.lastSeq ?? 0;
    st.lastAtMs = rec.lastAtMs ?? 0;
    st.ttlMs = rec.ttlMs ?? st.ttlMs;
    st.intervalMs = rec.intervalMs ?? st.intervalMs;
    st.allowedMisses = rec.allowedMisses ?? st.allowedMisses;
    st.downTimes = rec.downTimes ? [...rec.downTimes] : [];
    st.body = rec.body;
    st.instanceId = rec.body?.message.process?.instanceId ?? "";
    if (st.alive && !st.unverified) this.schedule(st, st.lastAtMs + st.ttlMs, "deadline");
  }

  /**
   * Settles a node seeded as `expired` once the consumer is current: `last` is its newest
   * heartbeat in KON_HB. The deadline then runs from it, so a node that stopped while no monitor
   * ran is reported down, and one still beating is left alone.
   */
  resolveUnverified(key: string, last: Predecessor): void {
    const st = this.nodes.get(key);
    if (!st?.unverified) return;
    if (last === null) {
      this.remove(st);
      return;
    }
    if (last.seq > st.lastSeq) {
      st.lastSeq = last.seq;
      st.lastAtMs = last.atMs;
      st.ttlMs = last.ttlMs;
      st.intervalMs = last.intervalMs;
    }
    st.unverified = false;
    if (st.alive) this.schedule(st, st.lastAtMs + st.ttlMs, "deadline");
  }

  /**
   * Applies a heartbeat.
   * @param nowMs detection clock (server time as far as this monitor has seen)
   * @param wallMs estimate of the server's time now, to recognise long-dead unknown nodes
   * @param predecessor given on the second call after `needs-predecessor`
   */
  heartbeat(
    h: TrackedHeartbeat,
    nowMs: number,
    wallMs: number,
    predecessor?: Predecessor,
  ): HeartbeatOutcome {
    const key = h.key ?? nodeKey(h.group, h.node);
    const slot = h.slot;
    let st = slot !== undefined && slot.tracker === this ? (slot.tracked as NodeState) : undefined;
    if (st === undefined || st.removed) {
      st = this.nodes.get(key);
      if (slot !== undefined && st !== undefined) this.fill(slot, st);
    }
    if (st && h.seq <= st.lastSeq) return { kind: "duplicate" };
    if (!st) {
      if (this.nodes.size >= (this.opts.maxNodes ?? 1_000_000) && !this.evictOne()) {
        return { kind: "capped" };
      }
      return this.firstHeartbeat(key, h, wallMs);
    }
    let down: TrackerEvent[] = NO_EVENTS;
    if (st.unverified || (st.alive && h.atMs > this.deadlineOf(st))) {
      if (predecessor === undefined) return { kind: "needs-predecessor" };
      const known = this.fillFrom(st, predecessor);
      if (known && st.alive && h.atMs > this.deadlineOf(st)) {
        down = this.markDown(st, this.deadlineOf(st), nowMs, "gap");
      }
    }
    const alive = this.onAlive(st, h);
    const events = down.length === 0 ? alive : alive.length === 0 ? down : [...down, ...alive];
    return { kind: "accepted", events, node: st };
  }

  /**
   * Forgets nodes that stopped (down or left, not beating) and were last heard before
   * `beforeMs`: their tombstones in the store keep the record. Returns the keys forgotten.
   */
  forgetSilent(beforeMs: number): string[] {
    const gone: string[] = [];
    for (const st of this.nodes.values()) {
      if (!st.alive && !st.unverified && st.lastAtMs < beforeMs) gone.push(st.key);
    }
    for (const key of gone) this.remove(this.nodes.get(key)!);
    for (const key of gone) this.onForget(key);
    return gone;
  }

  /** Makes room for a new node: the stopped node heard longest ago goes. */
  private evictOne(): boolean {
    let oldest: NodeState | undefined;
    for (const st of this.nodes.values()) {
      if (!st.alive && !st.unverified && (!oldest || st.lastAtMs < oldest.lastAtMs)) oldest = st;
    }
    if (!oldest) return false;
    this.remove(oldest);
    this.onForget(oldest.key);
    return true;
  }

  /** Deadlines and flapping windows that passed by `nowMs`. */
  due(nowMs: number): { candidates: DownCandidate[]; events: TrackerEvent[] } {
    const candidates: DownCandidate[] = [];
    const events: TrackerEvent[] = [];
    for (let e = this.heap.popDue(nowMs); e; e = this.heap.popDue(nowMs)) {
      const st = this.nodes.get(e.key);
      if (!st) continue;
      if (e.data.kind === "deadline") {
        // One live entry per node: beats only move st.deadlineMs, and the entry is pushed again
        // when it surfaces early (a beat costs no heap work).
        if (e.atMs !== st.heapAtMs) continue;
        st.heapAtMs = Infinity;
        if (!st.alive || st.unverified) continue;
        const deadline = this.deadlineOf(st);
        if (nowMs >= deadline) {
          candidates.push({ key: st.key, lastSeq: st.lastSeq, deadlineMs: deadline });
        } else this.pushDeadline(st, Number.isFinite(deadline) ? deadline : nowMs + 1000);
      } else if (st.lastSeq !== e.data.seq) {
        continue; // superseded by a newer heartbeat
      } else if (st.status === "flapping" && !st.alive && nowMs >= this.flapExitAt(st)) {
        st.status = "down";
        st.lastTransitionAtMs = this.flapExitAt(st);
        events.push(this.event(st, "down", String(st.lastSeq), "flapping ended; node is down"));
      }
    }
    return { candidates, events };
  }

  /** Checks `key` again at `atMs` (a heartbeat is in flight or the check failed). */
  postpone(key: string, lastSeq: number, atMs: number): void {
    const st = this.nodes.get(key);
    if (st && st.lastSeq === lastSeq) this.pushDeadline(st, atMs);
  }

  /**
   * Declares a down candidate down, once KON_HB confirmed no later heartbeat arrived in time.
   * Returns nothing when a newer heartbeat was applied meanwhile.
   */
  expire(key: string, lastSeq: number, nowMs: number): TrackerEvent[] {
    const st = this.nodes.get(key);
    if (!st || st.lastSeq !== lastSeq || !st.alive) return [];
    return this.markDown(st, this.deadlineOf(st), nowMs, "ttl");
  }

  private firstHeartbeat(key: string, h: TrackedHeartbeat, wallMs: number): HeartbeatOutcome {
    const st = this.create(h.group, h.node, key);
    if (h.slot !== undefined) this.fill(h.slot, st);
    this.take(st, h);
    if (wallMs - h.atMs >= h.ttlMs) {
      // Already expired when first seen (an old heartbeat of a node nobody recorded): there is
      // no live period to report, only a node that is gone.
      st.alive = false;
      st.status = h.leaving ? "left" : "down";
      return { kind: "accepted", events: [], node: st };
    }
    if (h.leaving) {
      st.alive = false;
      st.status = "left";
      return { kind: "accepted", events: [], node: st };
    }
    st.alive = true;
    st.status = "up";
    st.lastTransitionAtMs = h.atMs;
    this.schedule(st, h.atMs + h.ttlMs, "deadline");
    // Keyed by process instance: monitors starting at different moments name the same first up.
    const ref = h.instanceId ? `i${h.instanceId}` : String(h.seq);
    return { kind: "accepted", events: [this.event(st, "up", ref, "first heartbeat")], node: st };
  }

  private onAlive(st: NodeState, h: TrackedHeartbeat): TrackerEvent[] {
    const wasStatus = st.status;
    this.take(st, h);
    if (h.leaving) {
      st.alive = false;
      if (wasStatus === "left") return NO_EVENTS;
      st.status = "left";
      st.lastTransitionAtMs = h.atMs;
      return [this.event(st, "left", String(h.seq), "graceful leave")];
    }
    st.alive = true;
    this.schedule(st, h.atMs + h.ttlMs, "deadline");
    if (wasStatus === "flapping") {
      if (h.atMs < this.flapExitAt(st)) return NO_EVENTS;
      st.status = "up";
      st.lastTransitionAtMs = h.atMs;
      return [this.event(st, "up", String(h.seq), "stable again after flapping")];
    }
    if (wasStatus === "up") return NO_EVENTS; // the common beat: nothing to allocate
    st.status = "up";
    st.lastTransitionAtMs = h.atMs;
    const reason = wasStatus === "left" ? "rejoined after leaving" : "heartbeat after down";
    return [this.event(st, "up", String(h.seq), reason)];
  }

  private markDown(st: NodeState, atMs: number, nowMs: number, why: "ttl" | "gap"): TrackerEvent[] {
    st.alive = false;
    st.downTimes = st.downTimes.filter((t) => t > atMs - this.opts.flapWindowMs);
    st.downTimes.push(atMs);
    if (st.status === "flapping") {
      this.schedule(st, this.flapExitAt(st), "flap-exit");
      return [];
    }
    if (st.status !== "up") return [];
    st.lastTransitionAtMs = atMs;
    const verdict = this.mass.recordDown(
      st.group,
      atMs,
      st.ttlMs,
      nowMs,
      this.groups.get(st.group) ?? [],
    );
    st.suspect = verdict.suspect;
    if (st.downTimes.length > this.opts.flapCount) {
      st.status = "flapping";
      this.schedule(st, this.flapExitAt(st), "flap-exit");
      const reason = `went down ${st.downTimes.length} times within ${this.opts.flapWindowMs} ms`;
      return [this.event(st, "flapping", String(st.lastSeq), reason)];
    }
    st.status = "down";
    let reason =
      why === "ttl"
        ? `no heartbeat for ${st.ttlMs} ms (ttl expired)`
        : `no heartbeat for ${st.ttlMs} ms (gap found in the heartbeat stream)`;
    const moved = this.blind.movedBy(st.lastAtMs, st.ttlMs);
    if (moved) {
      reason +=
        `; the monitor could not hear from ${moved.startMs} to ${moved.endMs} (epoch ms), ` +
        `so the deadline was re-armed after it heard again`;
    }
    if (verdict.suspect) {
      reason += `; mass failure: ${verdict.affected} of ${verdict.population} nodes of ${st.group} lost within ${st.ttlMs} ms`;
    }
    return [this.event(st, "down", String(st.lastSeq), reason)];
  }

  /** Takes the predecessor if it is newer; false when the previous heartbeat stays unknown. */
  private fillFrom(st: NodeState, p: Predecessor): boolean {
    st.unverified = false;
    if (p !== null && p.seq > st.lastSeq) {
      // A heartbeat this monitor never applied (a store seeded behind, a flood-dropped beat):
      // it proves the node alive at its time.
      st.lastSeq = p.seq;
      st.lastAtMs = p.atMs;
      st.ttlMs = p.ttlMs;
      st.intervalMs = p.intervalMs;
    }
    return st.lastSeq > 0;
  }

  private take(st: NodeState, h: TrackedHeartbeat): void {
    st.lastSeq = h.seq;
    st.lastAtMs = h.atMs;
    st.ttlMs = h.ttlMs;
    st.intervalMs = h.intervalMs;
    st.allowedMisses = h.allowedMisses;
    st.instanceId = h.instanceId;
    st.body = h.body;
    st.skewMs = h.skewMs;
    st.unverified = false;
    st.suspect = false;
  }

  private flapExitAt(st: NodeState): number {
    return (
      (st.downTimes[st.downTimes.length - 1] ?? st.lastTransitionAtMs) + this.opts.flapWindowMs
    );
  }

  private schedule(st: NodeState, atMs: number, kind: Check["kind"]): void {
    if (kind === "flap-exit") {
      this.heap.push({ atMs, key: st.key, data: { kind, seq: st.lastSeq } });
      return;
    }
    st.deadlineMs = atMs;
    // An entry already due no later is enough: when it surfaces it is pushed again.
    if (st.heapAtMs > atMs) this.pushDeadline(st, atMs);
  }

  private pushDeadline(st: NodeState, atMs: number): void {
    if (atMs >= st.heapAtMs) return;
    st.heapAtMs = atMs;
    this.heap.push({ atMs, key: st.key, data: { kind: "deadline", seq: st.lastSeq } });
  }

  private event(st: NodeState, kind: NodeEventWord, ref: string, reason: string): TrackerEvent {
    return {
      id: nodeEventId(st.group, st.node, kind, ref),
      kind,
      key: st.key,
      group: st.group,
      node: st.node,
      atMs: st.lastTransitionAtMs,
      reason,
      suspect: kind === "down" && st.suspect,
      body: st.body,
      seq: st.lastSeq,
      lastBeatAtMs: st.lastAtMs,
    };
  }

  /** @param key `nodeKey(group, node)` when the caller has it (the one string per-beat look-ups use) */
  private create(group: string, node: string, key = nodeKey(group, node)): NodeState {
    const old = this.nodes.get(key);
    if (old) this.remove(old);
    const st: NodeState = {
      key,
      group,
      node,
      status: "up",
      alive: false,
      lastSeq: 0,
      lastAtMs: 0,
      ttlMs: 3000,
      intervalMs: 1000,
      allowedMisses: 3,
      deadlineMs: 0,
      instanceId: "",
      body: undefined,
      downTimes: [],
      lastTransitionAtMs: 0,
      skewMs: 0,
      suspect: false,
      unverified: false,
      heapAtMs: Infinity,
      removed: false,
      slot: undefined,
    };
    this.nodes.set(key, st);
    let members = this.groups.get(group);
    if (!members) this.groups.set(group, (members = new Set()));
    members.add(st);
    return st;
  }

  private fill(slot: NodeSlot, st: NodeState): void {
    slot.tracker = this;
    slot.tracked = st;
    st.slot = slot;
  }

  private remove(st: NodeState): void {
    st.removed = true;
    if (st.slot !== undefined && st.slot.tracked === st) st.slot.tracked = undefined;
    st.slot = undefined;
    this.nodes.delete(st.key);
    this.groups.get(st.group)?.delete(st);
  }
}
