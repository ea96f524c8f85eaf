import type { NodeLiveness, SeedRecord, TrackerEvent } from "../node-liveness";

/** What the monitor concluded about a key the store reported expired. */
export type ExpiryOutcome =
  | { outcome: "down" }
  /** Still beating (or not yet judged): check again at `deadlineMs` (event time). */
  | { outcome: "alive"; deadlineMs: number }
  | { outcome: "unknown" };

/** Called for a NATS expiry marker or a claimed Redis deadline, with the node key `<group>.<node>`. */
export type ExpiryHandler = (key: string) => Promise<ExpiryOutcome>;

/**
 * The shared, durable side of liveness: a record per node that outlives a monitor, and the
 * store's own expiry signal as a backstop for what a monitor missed.
 */
export interface LivenessBackend {
  readonly kind: "nats" | "redis";
  /**
   * True when downs found by a deadline are reported only by the monitor that claimed the
   * deadline in the store (Redis); false when the node's owner reports them (NATS).
   */
  readonly claimsDowns: boolean;
  /** Creates what the store needs (bucket, scripts). */
  init(): Promise<void>;
  /** Node records as stored, to seed the tracker before heartbeats are replayed. */
  loadSeeds(): Promise<SeedRecord[]>;
  /** Refreshes the record of a node this monitor owns after a heartbeat; never awaited per beat. */
  refresh(node: NodeLiveness, raw: Uint8Array): void;
  /** False when a refresh now would write nothing (optional; absent: every beat refreshes). */
  wantsRefresh?(node: NodeLiveness): boolean;
  /** Drops per-node memory of a node the monitor forgot (optional). */
  forget?(key: string): void;
  /** Records a transition of a node this monitor owns (tombstone, status). */
  record(event: TrackerEvent, node: NodeLiveness): Promise<void>;
  /** True when the store already holds this transition (recorded by whichever monitor claimed it). */
  hasRecorded(event: TrackerEvent): Promise<boolean>;
  /** Starts delivering expiry signals to `handler`. */
  startExpirySignals(handler: ExpiryHandler): Promise<void>;
  close(): Promise<void>;
}
