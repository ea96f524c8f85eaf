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
}
