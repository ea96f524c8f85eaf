import express from "express";
import type { NextFunction, Request, Response, Router } from "express";
import { z } from "zod";
import {
  MAX_NODES_LIMIT,
  encodeNodeCursor,
  groupParam,
  nodeCursorParam,
  nodeKey,
  nodeParam,
  parseInput,
  strictQuery,
  wholeNumberParam,
} from "@konorkestra/sdk/internal";
import { KonError, KonErrorCode } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import type { DetectionClock } from "../detection-clock";
import type { NodeTracker } from "../node-tracker";
import { NODE_STATUSES } from "../node-liveness";
import type { NodeLiveness } from "../node-liveness";
import { HttpError, errorHandler } from "./http-error";

/** What the liveness API needs. */
export interface NodesDeps {
  tracker: NodeTracker;
  clock: DetectionClock;
  monitorId: string;
  logger: Logger;
}

/** A node as the API shows it. */
export interface NodeSummary {
  group: string;
  node: string;
  status: NodeLiveness["status"];
  /** False when the node was restored from the store and its last heartbeat not yet looked up. */
  verified: boolean;
  /** The node's own clock at its last heartbeat (server time when it sent none). */
  lastSeenMs: number;
  /** When the server stored the last heartbeat. */
  lastHeartbeatAtMs: number;
  /** Time since the last heartbeat, by the server's clock. */
  ageMs: number;
  intervalMs: number;
  allowedMisses: number;
  ttlMs: number;
  instanceId: string;
  /** Config key → the revision the node runs, from its last heartbeat. */
  config: Record<
    string,
    {
      revision: number;
      sha256: string;
      appliedAtMs: number;
      rejectedRevision: number;
      pendingRevision: number;
    }
  >;
  clockSkewMs: number;
  /** The last down was one of many in its group at once. */
  suspect: boolean;
  /** Downs within the flapping window. */
  recentDowns: number;
}

export function summarize(n: NodeLiveness, nowMs: number): NodeSummary {
  const hb = n.body?.message;
  const config: NodeSummary["config"] = {};
  for (const [k, c] of Object.entries(hb?.config ?? {})) {
    config[k] = {
      revision: Number(c.revision),
      sha256: c.sha256 ?? "",
      appliedAtMs: Number(c.appliedAtMs),
      rejectedRevision: Number(c.rejectedRevision),
      pendingRevision: Number(c.pendingRevision),
    };
  }
  return {
    group: n.group,
    node: n.node,
    status: n.status,
    verified: !n.unverified,
    // The server's time of the last beat: a sender's clock (or a beat without one) must not move it.
    lastSeenMs: n.lastAtMs,
    lastHeartbeatAtMs: n.lastAtMs,
    ageMs: n.lastAtMs > 0 ? Math.max(0, nowMs - n.lastAtMs) : 0,
    intervalMs: n.intervalMs,
    allowedMisses: n.allowedMisses,
    ttlMs: n.ttlMs,
    instanceId: n.instanceId,
    config,
    clockSkewMs: n.skewMs,
    suspect: n.suspect,
    recentDowns: n.downTimes.length,
  };
}

/**
 * `GET /v1/nodes`'s query: as analytics' /v1/nodes takes it (sdk http-edge query-params), but for
 * `status`, which is one the monitor reports: analytics' `unknown` (a node it saw beat but holds
 * no up/down event of) is a state of its store that the monitor, which decides every status, never has.
 */
const nodesQuery = strictQuery({
  group: groupParam.optional(),
  status: z.enum(NODE_STATUSES).optional(),
  limit: wholeNumberParam(1, MAX_NODES_LIMIT).optional(),
  cursor: nodeCursorParam.optional(),
});

const nodePath = z.object({ group: groupParam, node: nodeParam });

/** {@link parseInput}, its refusal as the monitor's 400. */
function parse<S extends z.ZodType>(schema: S, input: unknown, where?: string): z.output<S> {
  try {
    return parseInput(schema, input, where);
  } catch (err) {
    if (err instanceof KonError) throw new HttpError(400, err.code, err.message);
    throw err;
  }
}

/**
 * The liveness API: `GET /v1/nodes?group=<g>&status=<s>&limit=<n>&cursor=<next>` lists nodes
 * (all groups without `group`) in key order, a page of `limit` (at most 10,000; without it the
 * whole list) after `cursor` (the previous page's `next`, opaque; `next` is null on the last
 * page); an unknown, repeated or bad parameter is a 400 naming it. `GET /v1/nodes/:group/:node`
 * shows one node with its last heartbeat's meta and process (a group or node id the sdk's name
 * rules refuse: 400).
 */
export function createNodesRouter(deps: NodesDeps): Router {
  const router = express.Router();
  router.get("/", (req: Request, res: Response) => {
    const q = parse(nodesQuery, req.query);
    const now = deps.clock.wallMs();
    let list = deps.tracker.list(q.group);
    if (q.status !== undefined) list = list.filter((n) => n.status === q.status);
    if (q.cursor !== undefined) {
      // The list is sorted by key: the page starts after the cursor's key.
      const after = nodeKey(q.cursor.group, q.cursor.node);
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (list[mid]!.key <= after) lo = mid + 1;
        else hi = mid;
      }
      list = list.slice(lo);
    }
    const more = q.limit !== undefined && list.length > q.limit;
    if (more) list = list.slice(0, q.limit);
    const last = list[list.length - 1];
    const nodes = list.map((n) => summarize(n, now));
    res.json({
      monitorId: deps.monitorId,
      asOfMs: now,
      count: nodes.length,
      nodes,
      next: more && last ? encodeNodeCursor({ group: last.group, node: last.node }) : null,
    });
  });
  router.get("/:group/:node", (req: Request, res: Response, next: NextFunction) => {
    // Names by the sdk's rules, as analytics checks them: a 400 naming the parameter (quoting at
    // most 40 characters of it), not a 404 that repeats whatever was sent.
    const { group, node } = parse(nodePath, req.params, "path parameter");
    parse(strictQuery({}), req.query);
    const n = deps.tracker.get(nodeKey(group, node));
    if (!n)
      return next(
        new HttpError(
          404,
          KonErrorCode.NotFound,
          `node ${group}.${node} is not known to this monitor`,
        ),
      );
    const hb = n.body?.message;
    res.json({
      ...summarize(n, deps.clock.wallMs()),
      seq: Number(hb?.seq ?? 0),
      uptimeMs: Number(hb?.uptimeMs ?? 0),
      meta: { ...(hb?.meta ?? {}) },
      process: hb?.process
        ? {
            pid: hb.process.pid,
            hostname: hb.process.hostname,
            serviceName: hb.process.serviceName,
            serviceVersion: hb.process.serviceVersion,
            sdkVersion: hb.process.sdkVersion,
            nodeVersion: hb.process.nodeVersion,
          }
        : undefined,
    });
  });
  router.use(errorHandler(deps.logger));
  return router;
}
