import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { Router } from "express";
import { z } from "zod";
import { SERIES_BUCKETS } from "../model/heartbeat-series";
import type { SeriesBucket } from "../model/heartbeat-series";
import type { SeriesStore } from "../store/series-store";
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

const BUCKET_MS: Record<SeriesBucket, number> = {
  "1m": 60_000,
  "5m": 300_000,
  "15m": 900_000,
  "1h": 3_600_000,
  "1d": 86_400_000,
};
const MAX_POINTS = 5000;

/** /v1/series/heartbeats. */
export function seriesRouter(series: SeriesStore): Router {
  const r = Router();
  r.get("/v1/series/heartbeats", async (req, res) => {
    const q = parseInput(
      strictQuery({
        bucket: z.enum(SERIES_BUCKETS).default("1m"),
        group: groupParam.optional(),
        node: nodeParam.optional(),
        window: windowParam.optional(),
        from: timeParam.optional(),
        to: timeParam.optional(),
      }),
      req.query,
    );
    const toMs = q.to ?? Date.now();
    const fromMs = q.from ?? toMs - WINDOWS[q.window ?? "1h"];
    checkRange(fromMs, toMs);
    if ((toMs - fromMs) / BUCKET_MS[q.bucket] > MAX_POINTS) {
      throw new KonError(
        KonErrorCode.QueryInvalid,
        `invalid query parameter bucket: ${q.bucket} buckets over this range exceed ${MAX_POINTS} points; use a wider bucket`,
      );
    }
    const points = await series.heartbeats(
      { group: q.group, node: q.node },
      q.bucket,
      fromMs,
      toMs,
    );
    res.json({ bucket: q.bucket, bucketMs: BUCKET_MS[q.bucket], fromMs, toMs, points });
  });
  return r;
}
