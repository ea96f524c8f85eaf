import { Router } from "express";
import type { FleetQueries } from "../domain/fleet-queries";
import { groupParam, parseInput, strictQuery } from "./query";

/** /v1/config/drift. */
export function configRouter(queries: FleetQueries): Router {
  const r = Router();
  r.get("/v1/config/drift", async (req, res) => {
    const q = parseInput(strictQuery({ group: groupParam.optional() }), req.query);
    res.json({ groups: await queries.drift(q.group) });
  });
  return r;
}
