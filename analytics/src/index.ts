// @konorkestra/analytics: heartbeats and node events into TimescaleDB; HTTP API and dashboard.
// The service runs as its own process (`node dist/main.js`), and no other package imports this
// one; the entry holds only the programmatic start that main.ts wraps, and its options.
export { createAnalytics } from "./analytics-service";
export type { AnalyticsRuntimeOptions, AnalyticsService } from "./analytics-service";
export { parseAnalyticsOptions } from "./options";
export type { AnalyticsOptions, AnalyticsRole, ResolvedAnalyticsOptions } from "./options";
