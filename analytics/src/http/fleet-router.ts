import { Router } from "express";
import { z } from "zod";
import type { FleetQueries } from "../domain/fleet-queries";
import type { FleetStore } from "../store/fleet-store";
import { ResponseCache } from "./response-cache";
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
const NODES_OPEN = Buffer.from('{"nodes":');
const NODES_CLOSE = Buffer.from("}");

/**
 * /v1/fleet/summary, /v1/nodes and the per-node uptime and timeline. `/v1/nodes` is served from
 * a cache of `cacheMs` (its answer may be that much older; `Cache-Control: no-cache` on the
 * request asks for a fresh one): at 10,000 nodes it is an 8 MB answer that many dashboards poll.
 */
export function fleetRouter(fleet: FleetStore, queries: FleetQueries, cacheMs: number): Router {
  const r = Router();
  const nodesCache = new ResponseCache(cacheMs);

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
    const fresh = /no-cache/i.test(req.get("cache-control") ?? "");
    const cached = await nodesCache.get(
      `${q.group ?? ""}|${q.status ?? ""}`,
      async () =>
        Buffer.concat([
          NODES_OPEN,
          await fleet.nodesJson({ group: q.group, status: q.status }),
          NODES_CLOSE,
        ]),
      fresh,
    );
    // Our own validator: express would otherwise hash the whole body on every request.
    res.set({
      ETag: cached.etag,
      Age: String(Math.floor((Date.now() - cached.atMs) / 1000)),
      "Cache-Control": `max-age=${Math.floor(cacheMs / 1000)}`,
    });
    if (req.fresh) {
      res.status(304).end();
      return;
    }
    res.type("application/json").send(cached.body);
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
