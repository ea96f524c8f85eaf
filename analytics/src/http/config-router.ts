import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { Router } from "express";
import { z } from "zod";
import type { FleetQueries } from "../domain/fleet-queries";
import { CONFIG_EVENT_KINDS } from "../model/event-kinds";
import type { ConfigEventKind } from "../model/event-kinds";
import type { ConfigEventStore, ConfigHistoryFilter } from "../store/config-event-store";
import { pageParams } from "./node-cursor";
import { ResponseCache } from "./response-cache";
import {
  configKeyParam,
  groupParam,
  nodeParam,
  parseInput,
  strictQuery,
  timeParam,
  wholeNumberParam,
} from "./query";

/** Largest `limit` of the history endpoints (100 when not given). */
export const MAX_HISTORY_LIMIT = 1000;

const kindList = z.string().transform((v, ctx) => {
  const kinds = v.split(",").map((k) => k.trim());
  const bad = kinds.find((k) => !(CONFIG_EVENT_KINDS as readonly string[]).includes(k));
  if (bad !== undefined) {
    ctx.addIssue({
      code: "custom",
      message: `${JSON.stringify(bad)} is not a config event kind; use one or more (comma-separated) of ${CONFIG_EVENT_KINDS.join(", ")}`,
    });
    return z.NEVER;
  }
  return kinds as ConfigEventKind[];
});

const limitParam = wholeNumberParam(1, MAX_HISTORY_LIMIT);

const common = {
  group: groupParam.optional(),
  key: configKeyParam.optional(),
  node: nodeParam.optional(),
  from: timeParam.optional(),
  to: timeParam.optional(),
  limit: limitParam.default(100),
};
const historyQuery = strictQuery({ ...common, kind: kindList.optional() });
const rejectionsQuery = strictQuery(common);

/** /v1/config/drift, /v1/config/drift/summary, /v1/config/history and /v1/config/rejections. */
export function configRouter(queries: FleetQueries, events: ConfigEventStore, cacheMs = 0): Router {
  const r = Router();
  // The summary tallies the whole fleet in PostgreSQL (~10-50 ms of its CPU at 10,000 nodes):
  // dashboards polling it share one build per `cacheMs`, as /v1/nodes answers are shared.
  const summaryCache = new ResponseCache(cacheMs);
  r.get("/v1/config/drift", async (req, res) => {
    const q = parseInput(strictQuery({ group: groupParam.optional() }), req.query);
    res.json({ groups: await queries.drift(q.group) });
  });

  // Counts per key and revision (the whole fleet's, without node lists), and with a page's
  // `limit` (and `cursor`, `group`, `status`, as /v1/nodes takes them) that page's drifting nodes.
  // Cached like /v1/nodes (`Cache-Control: no-cache` asks for a fresh one).
  r.get("/v1/config/drift/summary", async (req, res) => {
    const q = parseInput(
      strictQuery({ ...pageParams, limit: pageParams.limit.optional() }),
      req.query,
    );
    const page =
      q.limit === undefined
        ? undefined
        : { group: q.group, status: q.status, after: q.cursor, limit: q.limit };
    const fresh = /no-cache/i.test(req.get("cache-control") ?? "");
    const key = JSON.stringify([q.group, q.status, q.limit, q.cursor?.group, q.cursor?.node]);
    const body = await summaryCache.get(
      key,
      async () => JSON.stringify(await queries.driftSummary(q.group, page)),
      fresh,
    );
    res.set("Cache-Control", `max-age=${Math.floor(cacheMs / 1000)}`);
    res.type("application/json").send(body.body);
  });

  r.get("/v1/config/history", async (req, res) => {
    const q = parseInput(historyQuery, req.query);
    res.json(await history(events, { ...filterOf(q), kinds: q.kind }));
  });

  r.get("/v1/config/rejections", async (req, res) => {
    const q = parseInput(rejectionsQuery, req.query);
    res.json(await history(events, { ...filterOf(q), kinds: ["rejected"] }));
  });
  return r;
}

function filterOf(q: z.output<typeof rejectionsQuery>): ConfigHistoryFilter {
  const toMs = q.to ?? Date.now();
  if (q.from !== undefined && q.from > toMs) {
    throw new KonError(
      KonErrorCode.QueryInvalid,
      "invalid query parameter from: must not be after to",
    );
  }
  return { group: q.group, key: q.key, node: q.node, fromMs: q.from, toMs, limit: q.limit };
}

async function history(
  events: ConfigEventStore,
  f: ConfigHistoryFilter,
): Promise<Record<string, unknown>> {
  const { changes, truncated } = await events.history(f);
  return { fromMs: f.fromMs ?? null, toMs: f.toMs, limit: f.limit, truncated, changes };
}
