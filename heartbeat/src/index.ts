// @konorkestra/heartbeat: the liveness monitor.
export { createMonitor } from "./monitor";
export type { Monitor, MonitorRuntime } from "./monitor";
export { defaultMonitorId, parseMonitorOptions } from "./options";
export type { MonitorOptions, ResolvedMonitorOptions } from "./options";
export { NodeTracker, nodeEventId } from "./node-tracker";
export type {
  DownCandidate,
  HeartbeatOutcome,
  NodeEventKind,
  NodeStatus,
  NodeView,
  Predecessor,
  SeedRecord,
  TrackedHeartbeat,
  TrackerEvent,
  TrackerOptions,
} from "./node-view";
export { DetectionClock } from "./detection-clock";
export { HeartbeatValidator, livenessTtlMs } from "./heartbeat-validator";
export type {
  HeartbeatFlag,
  RawHeartbeat,
  RejectReason,
  ValidatorOptions,
} from "./heartbeat-validator";
export { monitorConsumerName } from "./heartbeat-consumer";
export { toNodeEvent } from "./event-publisher";
export { createMonitorMetrics } from "./metrics";
export type { MonitorMetrics } from "./metrics";
export { RateLimiter } from "./rate-limiter";
export type { ExpiryHandler, ExpiryOutcome, LivenessBackend } from "./backends/liveness-backend";
export type { NodeSummary } from "./http/nodes-router";
