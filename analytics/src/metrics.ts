import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * The service's Prometheus metrics, on a registry of its own (several instances can live in one
 * process, as they do in tests).
 */
export class AnalyticsMetrics {
  readonly registry = new Registry();
  readonly rowsIngested = new Counter({
    name: "kon_analytics_rows_ingested_total",
    help: "New rows committed to TimescaleDB, by stream kind (duplicates not counted)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly messagesAcked = new Counter({
    name: "kon_analytics_messages_acked_total",
    help: "JetStream messages acknowledged after their batch committed",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: "kon_analytics_messages_rejected_total",
    help: "Messages that could not be decoded or stored, kept in ingest_rejects",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly writeFailures = new Counter({
    name: "kon_analytics_write_failures_total",
    help: "Batch writes that failed and were retried (PostgreSQL down or slow)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly batchSeconds = new Histogram({
    name: "kon_analytics_batch_write_seconds",
    help: "Time to write and commit one batch",
    labelNames: ["kind"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly ingestHealthy = new Gauge({
    name: "kon_analytics_ingest_healthy",
    help: "1 while the last write of the stream succeeded, 0 while it retries",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly consumerLag = new Gauge({
    name: "kon_analytics_consumer_lag_messages",
    help: "Messages not yet acknowledged by the durable consumer (pending + ack pending)",
    labelNames: ["kind"] as const,
    registers: [this.registry],
  });
  readonly httpSeconds = new Histogram({
    name: "kon_analytics_http_request_seconds",
    help: "HTTP API latency by route",
    labelNames: ["route", "status"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "kon_analytics_" });
  }
}
