import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { GroupSyncResult } from "./group-sync";

/** Prometheus metrics of one loader, on a registry of its own (several loaders per process in tests). */
export class LoaderMetrics {
  readonly registry = new Registry();
  private readonly filesScanned = new Counter({
    name: "kon_loader_files_scanned_total",
    help: "Config files read and checked",
    registers: [this.registry],
  });
  private readonly published = new Counter({
    name: "kon_loader_keys_published_total",
    help: "Config keys written (puts)",
    registers: [this.registry],
  });
  private readonly deleted = new Counter({
    name: "kon_loader_keys_deleted_total",
    help: "Config keys deleted because their file is gone",
    registers: [this.registry],
  });
  private readonly rejected = new Counter({
    name: "kon_loader_files_rejected_total",
    help: "Files refused (counted once per content), by reason",
    labelNames: ["reason"],
    registers: [this.registry],
  });
  private readonly forged = new Counter({
    name: "kon_loader_forged_entries_total",
    help: "Stored entries whose claimed sha256 was not their payload's (forged or corrupt); published again",
    registers: [this.registry],
  });
  private readonly changeSets = new Counter({
    name: "kon_loader_change_sets_total",
    help: "Change sets written, by kind (atomic batch or single message)",
    labelNames: ["kind"],
    registers: [this.registry],
  });
  private readonly eventErrors = new Counter({
    name: "kon_loader_event_errors_total",
    help: "Config events that could not be published",
    registers: [this.registry],
  });
  private readonly reconciles = new Counter({
    name: "kon_loader_reconciles_total",
    help: "Reconcile passes, by scope (full or partial) and outcome",
    labelNames: ["scope", "outcome"],
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: "kon_loader_reconcile_duration_seconds",
    help: "Time of a reconcile pass",
    labelNames: ["scope"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly lastSuccess = new Gauge({
    name: "kon_loader_last_success_timestamp_seconds",
    help: "Unix time of the last successful reconcile",
    registers: [this.registry],
  });
  private readonly connected = new Gauge({
    name: "kon_loader_nats_connected",
    help: "1 while connected to NATS",
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "kon_loader_" });
  }

  recordGroup(r: GroupSyncResult): void {
    this.filesScanned.inc(r.filesScanned);
    for (const cs of r.changeSets) {
      this.published.inc(cs.puts.length);
      this.deleted.inc(cs.deletes.length);
      this.changeSets.inc({ kind: cs.atomic ? "atomic" : "single" });
    }
    for (const f of r.rejected) if (f.firstSeen) this.rejected.inc({ reason: f.code });
    this.eventErrors.inc(r.eventErrors);
  }

  /** A refusal outside a group pass (a folder that cannot be a group). */
  recordRejection(code: string): void {
    this.rejected.inc({ reason: code });
  }

  recordForged(): void {
    this.forged.inc();
  }

  recordReconcile(scope: "full" | "partial", ok: boolean, seconds: number): void {
    this.reconciles.inc({ scope, outcome: ok ? "ok" : "error" });
    this.duration.observe({ scope }, seconds);
    if (ok) this.lastSuccess.setToCurrentTime();
  }

  setConnected(up: boolean): void {
    this.connected.set(up ? 1 : 0);
  }
}
