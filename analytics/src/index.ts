// @konorkestra/analytics: heartbeats and node events into TimescaleDB; HTTP API and dashboard.
export { createAnalytics } from "./analytics-service";
export type { AnalyticsRuntimeOptions, AnalyticsService } from "./analytics-service";
export { parseAnalyticsOptions } from "./options";
export type { AnalyticsOptions, ResolvedAnalyticsOptions } from "./options";
export { MIGRATIONS_DIR, runMigrations } from "./db/migrate";
export type { MigrateOptions } from "./db/migrate";
export { migrateTemplate } from "./db/migrate-template";
export { applyStoragePolicies, dropExpiredChunks } from "./db/storage-policies";
export type { StorageInfo, StoragePolicyOptions } from "./db/storage-policies";
export { computeUptime } from "./domain/uptime";
export type { Uptime } from "./domain/uptime";
export { stateIntervals, stateTotals } from "./domain/state-intervals";
export type {
  LivenessState,
  StateEvent,
  StateInterval,
  StateTotals,
} from "./domain/state-intervals";
export { incidentsOf } from "./domain/incidents";
export type { Incident, IncidentCause } from "./domain/incidents";
export { computeReliability } from "./domain/reliability";
export type { Reliability } from "./domain/reliability";
export { computeDrift } from "./domain/drift";
export type { GroupDrift, KeyDrift, NodeConfig, RevisionGroup } from "./domain/drift";
export { StreamIngester } from "./ingest/stream-ingester";
export type { IngestStatus, StreamIngesterOptions } from "./ingest/stream-ingester";
export { refreshRollup } from "./maintenance/rollup-refresher";
export type { RefreshResult } from "./maintenance/rollup-refresher";
export { AnalyticsMetrics } from "./metrics";
