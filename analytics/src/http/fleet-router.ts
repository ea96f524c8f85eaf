import { Router } from "express";
import { z } from "zod";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import { MAX_NODES_LIMIT } from "@konorkestra/sdk/internal";
import type { FleetQueries } from "../domain/fleet-queries";
import { DISPLAY_STATUSES } from "../model/fleet-node";
import type { FleetStore, NodeListFrame } from "../store/fleet-store";
import { encodeNodeCursor, nodeCursorParam, pageParams } from "./node-cursor";
import { AnswerBuffers } from "./answer-buffers";
import { ResponseCache } from "./response-cache";
import {
  WINDOWS,
  checkRange,
  groupParam,
  nodeParam,
  parseInput,
  strictQuery,
  timeParam,
  wholeNumberParam,
  windowParam,
} from "./query";

const nodePath = z.object({ group: groupParam, node: nodeParam });
const NODES_OPEN = Buffer.from('{"nodes":');

/** `{"nodes":[…],"next":…}`, written by the store into the list's own buffer. */
const nodesFrame: NodeListFrame = (next) => ({
  open: NODES_OPEN,
  close: Buffer.from(`,"next":${next === null ? "null" : JSON.stringify(encodeNodeCursor(next))}}`),
});

/** Largest page of /v1/nodes a client may ask for (no `limit`: the whole list); the monitor's too. */
export { MAX_NODES_LIMIT };

const nodesQuery = strictQuery({
  group: groupParam.optional(),
  status: z.enum(DISPLAY_STATUSES).optional(),
  detail: z.enum(["compact", "full"]).default("compact"),
  limit: wholeNumberParam(1, MAX_NODES_LIMIT).optional(),
  cursor: nodeCursorParam.optional(),
});

/**
 * /v1/fleet/summary, /v1/nodes, one node's full record, the per-node uptime and timeline, and
 * the uptime of a page of nodes (/v1/uptime).
 * `/v1/nodes` is served from a cache of `cacheMs` (its answer may be that much older;
 * `Cache-Control: no-cache` on the request asks for a fresh one): at 10,000 nodes it is a
 * 4 MB answer that many dashboards poll.
 */
export function fleetRouter(fleet: FleetStore, queries: FleetQueries, cacheMs: number): Router {
  const r = Router();
  // Whole-list answers are megabytes: their buffers take turns (see AnswerBuffers).
  const answers = new AnswerBuffers();
  const nodesCache = new ResponseCache(cacheMs, undefined, answers);

  r.get("/v1/fleet/summary", async (req, res) => {
    const q = parseInput(strictQuery({ group: groupParam.optional() }), req.query);
    const groups = await fleet.summary(q.group);
    const totals = { up: 0, down: 0, left: 0, flapping: 0, unknown: 0, total: 0 };
    for (const g of groups)
      for (const k of Object.keys(totals) as (keyof typeof totals)[]) totals[k] += g[k];
    res.json({ groups, totals });
  });

  r.get("/v1/nodes", async (req, res) => {
    const q = parseInput(nodesQuery, req.query);
    const fresh = /no-cache/i.test(req.get("cache-control") ?? "");
    const key = [q.group, q.status, q.detail, q.limit, q.cursor?.group, q.cursor?.node];
    const cached = await nodesCache.get(
      JSON.stringify(key),
      async () => {
        const page = await fleet.nodesJson(
          {
            group: q.group,
            status: q.status,
            detail: q.detail,
            after: q.cursor,
            limit: q.limit,
          },
          Date.now(),
          nodesFrame,
          answers.alloc,
        );
        return page.json;
      },
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
    // Held until written (or the client gone): only then may the buffer take a new answer.
    answers.hold(cached.body);
    let held = true;
    const done = (): void => {
      if (held) answers.release(cached.body);
      held = false;
    };
    res.once("finish", done);
    res.once("close", done);
    res.type("application/json").send(cached.body);
  });

  r.get("/v1/nodes/:group/:node", async (req, res) => {
    const p = parseInput(nodePath, req.params, "path parameter");
    parseInput(strictQuery({}), req.query);
    const [node] = await fleet.nodes({ group: p.group, node: p.node });
    if (!node) {
      throw new KonError(
        KonErrorCode.NotFound,
        `node ${p.group}/${p.node} is not known to analytics`,
      );
    }
    res.json(node);
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

  // The uptime of every node of a /v1/nodes page (same group, status, limit and cursor): one
  // request per dashboard refresh instead of one per row.
  r.get("/v1/uptime", async (req, res) => {
    const q = parseInput(
      strictQuery({ ...pageParams, window: windowParam.default("24h") }),
      req.query,
    );
    const toMs = Date.now();
    const fromMs = toMs - WINDOWS[q.window];
    const page = { group: q.group, status: q.status, after: q.cursor, limit: q.limit };
    const nodes = await queries.pageUptime(page, fromMs, toMs);
    res.json({ window: q.window, fromMs, toMs, nodes });
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
