import { Router } from "express";
import { z } from "zod";
import type { FleetQueries } from "../domain/fleet-queries";
import type { FleetStore } from "../store/fleet-store";
import {
  WINDOWS,
  checkRange,
  groupParam,
  nodeParam,
  parseInput,
  strictQuery,
  timeParam,
  windowParam,
} from "./query";

const nodePath = z.object({ group: groupParam, node: nodeParam });

/** /v1/fleet/summary, /v1/nodes and the per-node uptime and timeline. */
export function fleetRouter(fleet: FleetStore, queries: FleetQueries): Router {
  const r = Router();

  r.get("/v1/fleet/summary", async (req, res) => {
    const q = parseInput(strictQuery({ group: groupParam.optional() }), req.query);
    const groups = await fleet.summary(q.group);
    const totals = { up: 0, down: 0, left: 0, flapping: 0, unknown: 0, total: 0 };
    for (const g of groups)
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += g[k];
    res.json({ groups, totals });
  });

  r.get("/v1/nodes", async (req, res) => {
    const q = parseInput(
      strictQuery({
        group: groupParam.optional(),
        status: z.enum(["up", "down", "left", "flapping", "unknown"]).optional(),
      }),
      req.query,
    );
    const nodes = (await fleet.nodes({ group: q.group })).filter(
      (n) => !q.status || n.status === q.status,
    );
    res.json({ nodes });
  });

  r.get("/v1/nodes/:group/:node/uptime", async (req, res) => {
    const p = parseInput(nodePath, req.params, "path parameter");
    const q = parseInput(strictQuery({ window: windowParam.default("24h") }), req.query);
    const toMs = Date.now();
    const fromMs = toMs - WINDOWS[q.window];
    res.json({
      group: p.group,
      node: p.node,
      window: q.window,
      ...(await queries.uptime(p.group, p.node, fromMs, toMs)),
    });
  });

  r.get("/v1/nodes/:group/:node/timeline", async (req, res) => {
    const p = parseInput(nodePath, req.params, "path parameter");
    const q = parseInput(
      strictQuery({
        window: windowParam.optional(),
        from: timeParam.optional(),
        to: timeParam.optional(),
      }),
      req.query,
    );
    const toMs = q.to ?? Date.now();
    const fromMs = q.from ?? toMs - WINDOWS[q.window ?? "24h"];
    checkRange(fromMs, toMs);
    res.json(await queries.timeline(p.group, p.node, fromMs, toMs));
  });

  return r;
}
