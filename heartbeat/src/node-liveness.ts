// A node's liveness and the types around it, shared by the tracker, the backends and the HTTP API.
import type { NodeEventWord } from "@konorkestra/sdk/internal";
import type { HeartbeatBody } from "./heartbeat-wire";
import type { NodeSlot } from "./node-slot";

/** What the monitor reports about a node; also the `Kon-Status` of its liveness record. */
export const NODE_STATUSES = ["up", "down", "left", "flapping"] as const;
export type NodeStatus = (typeof NODE_STATUSES)[number];

/** A validated heartbeat as the tracker sees it. Times are the NATS server's (event time). */
export interface TrackedHeartbeat {
  group: string;
  node: string;
  /**
   * `nodeKey(group, node)` when the producer has it (the validator gives the same string for
   * every beat of a node, so per-node look-ups need not build and hash a new one).
   */
  key?: string;
  /** Where the node's per-beat entries are (see NodeSlot); a hint each table checks. */
  slot?: NodeSlot;
  /** Sequence of the heartbeat in stream KON_HB. */
  seq: number;
  /** When the server stored it (ms). */
  atMs: number;
  /** Silence after which the node is down: interval × misses, rounded up to whole seconds. */
  ttlMs: number;
  intervalMs: number;
  allowedMisses: number;
  leaving: boolean;
  instanceId: string;
  /** The sender's own clock minus the server's (0 when the sender gave no time). */
  skewMs: number;
  /** The beat as stored; its message is decoded only when needed. */
  body: HeartbeatBody;
}

/** A transition, decided the same way by every monitor that sees the same heartbeats. */
export interface TrackerEvent {
  /** Deterministic: `<group>.<node>.<kind>.<ref>`, sent as `Nats-Msg-Id`. */
  id: string;
  kind: NodeEventWord;
  key: string;
  group: string;
  node: string;
  /** Event time of the transition: the deadline for a down, the heartbeat for up and left. */
  atMs: number;
  reason: string;
  suspect: boolean;
  /** The last heartbeat before the silence, or the one that brought the node up or in. */
  body: HeartbeatBody | undefined;
  seq: number;
  /** Server time (KON_HB) of that heartbeat: the node's last proof of life; 0 when unknown. */
  lastBeatAtMs: number;
}

/** A node whose deadline passed; the caller checks KON_HB before calling {@link NodeTracker.expire}. */
export interface DownCandidate {
  key: string;
  lastSeq: number;
  deadlineMs: number;
}

/** What the monitor knows about one node's liveness (read-only; the tracker owns the state). */
export interface NodeLiveness {
  readonly key: string;
  readonly group: string;
  readonly node: string;
  readonly status: NodeStatus;
  /** Beating now (a flapping node may be either). */
  readonly alive: boolean;
  readonly lastSeq: number;
  readonly lastAtMs: number;
  readonly ttlMs: number;
  readonly intervalMs: number;
  readonly allowedMisses: number;
  readonly deadlineMs: number;
  readonly instanceId: string;
  readonly body: HeartbeatBody | undefined;
  /** Down transitions (event time) within the flapping window. */
  readonly downTimes: readonly number[];
  readonly lastTransitionAtMs: number;
  readonly skewMs: number;
  readonly suspect: boolean;
  /** Known from the liveness store only; the last heartbeat is still to be looked up. */
  readonly unverified: boolean;
}

/** State restored from the liveness store at start. */
export interface SeedRecord {
  group: string;
  node: string;
  /** `expired`: the store's key expired (a marker) and its last heartbeat is unknown. */
  status: NodeStatus | "expired";
  lastSeq?: number;
  lastAtMs?: number;
  ttlMs?: number;
  intervalMs?: number;
  allowedMisses?: number;
  downTimes?: number[];
  body?: HeartbeatBody;
  /** Beating when stored (matters for `flapping`); by default up and expired are, the rest not. */
  alive?: boolean;
}

/** Outcome of {@link NodeTracker.heartbeat}. */
export type HeartbeatOutcome =
  | { kind: "accepted"; events: TrackerEvent[]; node: NodeLiveness }
  | { kind: "duplicate" }
  /** The heartbeat before this one is needed to judge a gap: look it up and call again. */
  | { kind: "needs-predecessor" }
  /** A node never seen, and the tracker is full of nodes that are beating: not tracked. */
  | { kind: "capped" };

/** Rules of the tracker. */
export interface TrackerOptions {
  flapCount: number;
  flapWindowMs: number;
  massFailurePct: number;
  massFailureMinNodes: number;
  /** Time nodes get to reconnect after a blind period of the monitor ends. @default 2000 */
  blindGraceMs?: number;
  /** Most nodes tracked; a new one beyond it evicts the longest-silent stopped node. @default 1000000 */
  maxNodes?: number;
}

/** The heartbeat before the one being judged, from KON_HB (null: there is none). */
export type Predecessor = Pick<TrackedHeartbeat, "seq" | "atMs" | "ttlMs" | "intervalMs"> | null;
