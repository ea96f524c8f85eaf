import { Router } from "express";
import type { FleetQueries } from "../domain/fleet-queries";
import {
  WINDOWS,
  boolParam,
  checkRange,
  groupParam,
  nodeParam,
  parseInput,
  strictQuery,
  timeParam,
  windowParam,
} from "./query";

/** /v1/incidents and /v1/reliability. */
export function incidentsRouter(queries: FleetQueries): Router {
  const r = Router();

  r.get("/v1/incidents", async (req, res) => {
    const q = parseInput(
      strictQuery({
        open: boolParam.optional(),
        group: groupParam.optional(),
        node: nodeParam.optional(),
        from: timeParam.optional(),
        to: timeParam.optional(),
      }),
      req.query,
    );
    const nowMs = Date.now();
    const toMs = q.to ?? nowMs;
    const fromMs = q.from ?? toMs - WINDOWS["7d"];
    checkRange(fromMs, toMs);
    const incidents = await queries.incidents(
      { group: q.group, node: q.node, open: q.open, fromMs, toMs },
      nowMs,
    );
    res.json({ fromMs, toMs, incidents });
  });

  r.get("/v1/reliability", async (req, res) => {
    const q = parseInput(
      strictQuery({ group: groupParam.optional(), window: windowParam.default("7d") }),
      req.query,
    );
    const toMs = Date.now();
    const fromMs = toMs - WINDOWS[q.window];
    res.json({
      group: q.group ?? null,
      window: q.window,
      ...(await queries.reliability(q.group, fromMs, toMs, toMs)),
    });
  });

  return r;
}
