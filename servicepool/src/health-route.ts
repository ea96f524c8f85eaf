import type { Express } from "express";
import type { ConfigHandle, ConfigOrigin, Konorkestra } from "@konorkestra/sdk";
import type { FleetConfig } from "./fleet-config";

/**
 * GET /healthz of an example service: who it is, which revision of its own key and of `fleet` it
 * runs, and whether that came from NATS or the last-known-good snapshot.
 */
export function addHealthRoute(
  app: Express,
  service: string,
  kon: Konorkestra,
  cfg: { readonly revision: number; readonly source: ConfigOrigin },
  fleet: ConfigHandle<FleetConfig>,
): void {
  app.get("/healthz", (_req, res) => {
    res.json({
      ok: true,
      service,
      node: kon.nodeId,
      configRevision: cfg.revision,
      source: cfg.source,
      banner: fleet.value.banner,
      fleetRevision: fleet.revision,
    });
  });
}
