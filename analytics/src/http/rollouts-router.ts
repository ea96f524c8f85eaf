import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { Router } from "express";
import type { RolloutQueries } from "../domain/rollout-queries";
import { configKeyParam, groupParam, parseInput, strictQuery, wholeNumberParam } from "./query";

/** Largest `limit` (published revisions listed) of /v1/rollouts. */
export const MAX_ROLLOUT_REVISIONS = 100;

const rolloutQuery = strictQuery({
  group: groupParam,
  key: configKeyParam,
  limit: wholeNumberParam(1, MAX_ROLLOUT_REVISIONS).default(10),
});

/**
 * GET /v1/rollouts?group=&key=[&limit=]: per revision of the key (the newest `limit` published,
 * plus any a live node runs, holds or refused), how many live nodes run it, hold it pending,
 * refused it or are still below it, and the time from its publish to each node's apply (p50/p99).
 */
export function rolloutsRouter(rollouts: RolloutQueries): Router {
  const r = Router();
  r.get("/v1/rollouts", async (req, res) => {
    const q = parseInput(rolloutQuery, req.query);
    const rollout = await rollouts.rollout(q.group, q.key, q.limit);
    if (!rollout) {
      throw new KonError(
        KonErrorCode.NotFound,
        `nothing is known of config key ${q.key} in group ${q.group}: no value in its bucket, no config event and no node reporting it`,
      );
    }
    res.json(rollout);
  });
  return r;
}
