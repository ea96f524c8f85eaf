import { Counter, Gauge, Histogram, Registry } from "prom-client";

/** The monitor's Prometheus metrics, in a registry of its own (several monitors per process in tests). */
export interface MonitorMetrics {
  readonly registry: Registry;
  /** Heartbeats applied to the tracker. */
  readonly heartbeats: Counter<"source">;
  /** Heartbeats dropped, by reason (malformed, bad_subject, bad_node, unknown_group, flood). */
  readonly rejected: Counter<"reason">;
  /** Heartbeats kept but flagged (clock_skew, oversized_meta, timing_clamped). */
  readonly flagged: Counter<"flag">;
  /** Heartbeats older than what the monitor already applied (redelivery, out of order). */
  readonly duplicates: Counter;
  /** Node events published by this monitor, by kind and whether the stream kept them. */
  readonly events: Counter<"kind" | "result">;
  /** Expiry signals from the backend: NATS markers, Redis claims, by outcome. */
  readonly expirySignals: Counter<"source" | "outcome">;
  /** Down candidates whose check against KON_HB found a later heartbeat. */
  readonly postponed: Counter;
  /** Liveness store writes that failed. */
  readonly storeErrors: Counter<"op">;
  /** Event time from deadline to declaration (ms): what the detection benchmark watches. */
  readonly detectionDelay: Histogram;
  /** Tracked nodes by status. */
  readonly nodes: Gauge<"status">;
  /** 1 while the heartbeat consumer is caught up and connected. */
  readonly current: Gauge;
  /** Detection clock behind the wall-clock estimate of server time (ms). */
  readonly clockLag: Gauge;
  /** Live monitors in the membership. */
  readonly members: Gauge;
  /** HTTP ingest requests by response status. */
  readonly ingest: Counter<"status">;
  /** 1 while the monitor cannot hear heartbeats (NATS connection lost, not yet caught up). */
  readonly blind: Gauge;
  /** Blind periods begun. */
  readonly blindPeriods: Counter;
  /** Caps that bit: nodes evicted, groups or nodes refused, by what. */
  readonly capped: Counter<"cap">;
  /** Bytes held by the streams the monitor depends on. */
  readonly streamBytes: Gauge<"stream">;
  /** Their `max_bytes` (-1: none). */
  readonly streamMaxBytes: Gauge<"stream">;
}

export function createMonitorMetrics(monitorId: string): MonitorMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ monitor: monitorId });
  const registers = [registry];
  return {
    registry,
    heartbeats: new Counter({
      name: "kon_monitor_heartbeats_total",
      help: "Heartbeats applied",
      labelNames: ["source"],
      registers,
    }),
    rejected: new Counter({
      name: "kon_monitor_heartbeats_rejected_total",
      help: "Heartbeats dropped, by reason",
      labelNames: ["reason"],
      registers,
    }),
    flagged: new Counter({
      name: "kon_monitor_heartbeats_flagged_total",
      help: "Heartbeats kept but flagged, by flag",
      labelNames: ["flag"],
      registers,
    }),
    duplicates: new Counter({
      name: "kon_monitor_heartbeats_duplicate_total",
      help: "Heartbeats not newer than the last one applied",
      registers,
    }),
    events: new Counter({
      name: "kon_monitor_events_total",
      help: "Node events published, by kind and result (stored, duplicate, failed)",
      labelNames: ["kind", "result"],
      registers,
    }),
    expirySignals: new Counter({
      name: "kon_monitor_expiry_signals_total",
      help: "Expiry markers and claimed deadlines, by source and outcome",
      labelNames: ["source", "outcome"],
      registers,
    }),
    postponed: new Counter({
      name: "kon_monitor_down_postponed_total",
      help: "Down candidates with a later heartbeat in KON_HB",
      registers,
    }),
    storeErrors: new Counter({
      name: "kon_monitor_store_errors_total",
      help: "Failed writes to the liveness store",
      labelNames: ["op"],
      registers,
    }),
    detectionDelay: new Histogram({
      name: "kon_monitor_detection_delay_ms",
      help: "Event time from a node's deadline to its down declaration",
      buckets: [10, 25, 50, 100, 200, 300, 500, 750, 1000, 2000, 5000],
      registers,
    }),
    nodes: new Gauge({
      name: "kon_monitor_nodes",
      help: "Tracked nodes by status",
      labelNames: ["status"],
      registers,
    }),
    current: new Gauge({
      name: "kon_monitor_consumer_current",
      help: "1 while the heartbeat consumer is caught up and connected",
      registers,
    }),
    clockLag: new Gauge({
      name: "kon_monitor_clock_lag_ms",
      help: "Detection clock behind the estimate of server time",
      registers,
    }),
    members: new Gauge({
      name: "kon_monitor_members",
      help: "Live monitors sharing the work",
      registers,
    }),
    ingest: new Counter({
      name: "kon_monitor_http_ingest_total",
      help: "HTTP heartbeat ingest requests by response status",
      labelNames: ["status"],
      registers,
    }),
    blind: new Gauge({
      name: "kon_monitor_blind",
      help: "1 while the monitor cannot hear heartbeats; deadlines are re-armed when it hears again",
      registers,
    }),
    blindPeriods: new Counter({
      name: "kon_monitor_blind_periods_total",
      help: "Periods in which the monitor could not hear heartbeats",
      registers,
    }),
    capped: new Counter({
      name: "kon_monitor_capped_total",
      help: "Times a size cap bit, by cap (tracked_nodes, forgotten_nodes, stream_limiter, ingest_limiter, groups, stream_bytes)",
      labelNames: ["cap"],
      registers,
    }),
    streamBytes: new Gauge({
      name: "kon_monitor_stream_bytes",
      help: "Bytes held by KON_HB and KON_EVENTS",
      labelNames: ["stream"],
      registers,
    }),
    streamMaxBytes: new Gauge({
      name: "kon_monitor_stream_max_bytes",
      help: "max_bytes of KON_HB and KON_EVENTS (-1: unlimited)",
      labelNames: ["stream"],
      registers,
    }),
  };
}
