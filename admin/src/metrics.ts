import { Counter, Histogram, Registry } from "prom-client";

/** The admin service's Prometheus metrics, on a registry of its own. Never labelled with secrets. */
export class AdminMetrics {
  readonly registry = new Registry();
  readonly httpSeconds = new Histogram({
    name: "kon_admin_http_seconds",
    help: "HTTP request duration by route pattern and status",
    labelNames: ["route", "status"] as const,
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly joinKeyChecks = new Counter({
    name: "kon_admin_join_key_checks_total",
    help: "Join-key checks by outcome (admitted, refused, rate_limited)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly configWrites = new Counter({
    name: "kon_admin_config_writes_total",
    help: "Config API writes by route (create, update, rollback) and HTTP status",
    labelNames: ["route", "status"] as const,
    registers: [this.registry],
  });
  readonly compactionRuns = new Counter({
    name: "kon_admin_config_compaction_runs_total",
    help: "Group compactions of config buckets run",
    registers: [this.registry],
  });
  readonly compactionTombstones = new Counter({
    name: "kon_admin_config_compaction_tombstones_total",
    help: "Delete tombstones purged from config buckets by compaction",
    registers: [this.registry],
  });
  readonly compactionBytes = new Counter({
    name: "kon_admin_config_compaction_freed_bytes_total",
    help: "Bytes freed in config bucket streams by compaction",
    registers: [this.registry],
  });
}
