import express from "express";
import type { Konorkestra } from "@konorkestra/sdk";
import { openFleetConfig } from "../fleet-config";
import { addHealthRoute } from "../health-route";
import { listen } from "../http-listen";
import type { RunningService } from "../service-main";
import { MemoryJobSource } from "./job-source";
import { Service2Config } from "./service2-config";
import { Worker } from "./worker";

/** A running service2 plus its queue, so a caller (a test, the demo) can feed it jobs. */
export interface RunningService2 extends RunningService {
  worker: Worker;
  source: MemoryJobSource;
}

/**
 * Starts service2: a worker whose concurrency and poll interval follow config key `service2`.
 * POST /v1/jobs?count=N&ms=M enqueues N jobs that each take M ms; GET /status reports the pool.
 * No job is taken while the config cannot be proven current (see {@link Worker}).
 */
export async function startService2(kon: Konorkestra, port: number): Promise<RunningService2> {
  const cfg = await kon.config("service2", Service2Config, { default: {} });
  const fleet = await openFleetConfig(kon);
  const source = new MemoryJobSource();
  const worker = new Worker(
    cfg,
    source,
    (err) => kon.logger.warn(`service2 job failed: ${String(err)}`),
    (stale) =>
      stale
        ? kon.logger.warn(`service2 takes no jobs: ${stale.reason}`)
        : kon.logger.info("service2 takes jobs again: config confirmed current"),
  );
  worker.start();

  const app = express();
  app.disable("x-powered-by");
  app.get("/status", (_req, res) => {
    res.json({
      ...worker.status(),
      pending: source.pending,
      polls: source.polls,
      configRevision: cfg.revision,
    });
  });
  app.post("/v1/jobs", (req, res) => {
    const count = Number(req.query.count ?? 1);
    const ms = Number(req.query.ms ?? 100);
    if (
      !Number.isInteger(count) ||
      count < 1 ||
      count > 10_000 ||
      !Number.isFinite(ms) ||
      ms < 0 ||
      ms > 60_000
    ) {
      res
        .status(400)
        .json({ error: "bad_request", reason: "count must be 1-10000 and ms 0-60000" });
      return;
    }
    source.push(
      ...Array.from({ length: count }, () => () => new Promise<void>((r) => setTimeout(r, ms))),
    );
    worker.resetMaxActive();
    res.status(202).json({ queued: count, pending: source.pending });
  });
  addHealthRoute(app, "service2", kon, cfg, fleet);
  const http = await listen(app, port);
  return {
    port: http.port,
    worker,
    source,
    close: async () => {
      cfg.close();
      fleet.close();
      await worker.stop();
      await http.close();
    },
  };
}
