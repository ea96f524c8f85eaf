import express from "express";
import type { NextFunction, Request, Response, Router } from "express";
import type { JetStreamClient } from "@nats-io/jetstream";
import { z } from "zod";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { HeartbeatInit } from "@konorkestra/proto";
import {
  MAX_INTERVAL_MS,
  MAX_MISSES,
  MIN_INTERVAL_MS,
  assertNodeId,
  isGroupName,
  livenessTtlMs,
  nodeKey,
  quoteRefused,
} from "@konorkestra/sdk/internal";
import { KonErrorCode } from "@konorkestra/sdk";
import type { Logger } from "@konorkestra/sdk";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { GroupRegistry } from "../group-registry";
import { metaBytes } from "../heartbeat-validator";
import type { MonitorMetrics } from "../metrics";
import type { TokenBuckets } from "../token-buckets";
import { HttpError, errorHandler, sendError } from "./http-error";
import type { JoinKeyChecker } from "./join-key-checker";

/** What HTTP ingest needs. */
export interface IngestDeps {
  js: JetStreamClient;
  names: WireNames;
  /** Checks the group's join key each request presents (through the admin service). */
  joinKeys: JoinKeyChecker;
  groups: GroupRegistry;
  /** Per node, by the wall clock. */
  limiter: TokenBuckets;
  maxBytes: number;
  maxMetaBytes: number;
  defaultIntervalMs: number;
  defaultMisses: number;
  metrics: MonitorMetrics;
  logger: Logger;
}

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** Body of `POST /v1/heartbeat/:group/:node` (all optional; GET takes the same as query parameters). */
const ingestBody = z
  .object({
    seq: int(0, Number.MAX_SAFE_INTEGER).optional(),
    sentAtMs: int(0, Number.MAX_SAFE_INTEGER).optional(),
    uptimeMs: int(0, Number.MAX_SAFE_INTEGER).optional(),
    intervalMs: int(MIN_INTERVAL_MS, MAX_INTERVAL_MS).optional(),
    allowedMisses: int(1, MAX_MISSES).optional(),
    leaving: z.boolean().optional(),
    instanceId: z.string().max(128).optional(),
    serviceName: z.string().max(128).optional(),
    serviceVersion: z.string().max(128).optional(),
    meta: z.record(z.string().min(1).max(63), z.string()).optional(),
    config: z
      .record(
        z.string().min(1).max(255),
        z.object({
          revision: int(0, Number.MAX_SAFE_INTEGER),
          sha256: z.string().regex(/^[0-9a-f]{64}$/, "lowercase hex sha256"),
          appliedAtMs: int(0, Number.MAX_SAFE_INTEGER).optional(),
          rejectedRevision: int(0, Number.MAX_SAFE_INTEGER).optional(),
          pendingRevision: int(0, Number.MAX_SAFE_INTEGER).optional(),
        }),
      )
      .optional(),
  })
  .strict();
type IngestBody = z.infer<typeof ingestBody>;

const NUMERIC = ["seq", "sentAtMs", "uptimeMs", "intervalMs", "allowedMisses"] as const;

const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = {
  true: true,
  false: false,
  yes: true,
  no: false,
  on: true,
  off: false,
  "1": true,
  "0": false,
};

/**
 * GET from cron: query strings become the body's types. Numbers are decimal digits only and
 * booleans one of true/false, yes/no, on/off, 1/0: anything else (`0x10`, `1e4`, ` 4`, `maybe`)
 * is a 400 naming the parameter, never a guess.
 */
function fromQuery(q: Request["query"]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(q)) {
    if (typeof v !== "string") {
      throw badQuery(k, "give it once, as a plain value");
    }
    if ((NUMERIC as readonly string[]).includes(k)) {
      if (v === "") continue;
      if (!/^\d{1,16}$/.test(v)) throw badQuery(k, `use decimal digits, not ${quoteRefused(v)}`);
      out[k] = Number(v);
    } else if (k === "leaving") {
      const b = BOOLEAN_WORDS[v.toLowerCase()];
      if (b === undefined) throw badQuery(k, `use true or false, not ${quoteRefused(v)}`);
      out[k] = b;
    } else out[k] = v;
  }
  return out;
}

function badQuery(field: string, why: string): HttpError {
  return new HttpError(400, KonErrorCode.InvalidHeartbeat, `invalid heartbeat ${field}: ${why}`, [
    { field, message: why },
  ]);
}

/** Query parameters that would put a credential in the URL (and so in logs and proxies). */
const URL_CREDENTIALS = ["token", "key", "joinKey", "join_key", "access_token"];

/** The join key from `Authorization: Bearer <key>` or `X-Kon-Join-Key`, never from the URL. */
function presentedKey(req: Request): string | undefined {
  const auth = req.get("authorization");
  if (auth?.toLowerCase().startsWith("bearer ")) return auth.slice(7).trim() || undefined;
  return req.get("x-kon-join-key")?.trim() || undefined;
}

/** Admits a request whose join key admits to the group in its path; refuses everything else. */
async function admit(deps: IngestDeps, req: Request, res: Response): Promise<boolean> {
  const inUrl = URL_CREDENTIALS.find((p) => p in req.query);
  if (inUrl !== undefined) {
    throw new HttpError(
      400,
      KonErrorCode.InvalidHeartbeat,
      `'${inUrl}' in the URL is refused (URLs end up in logs): send the group's join key in the header 'Authorization: Bearer <join key>' or 'X-Kon-Join-Key'`,
    );
  }
  const group = String(req.params.group);
  if (!isGroupName(group)) {
    // Syntax only, which says nothing about whether the group exists.
    throw new HttpError(
      400,
      KonErrorCode.InvalidName,
      `invalid group ${quoteRefused(group)}: use 1-63 of [a-z0-9-]`,
    );
  }
  const key = presentedKey(req);
  const refused = new HttpError(
    401,
    KonErrorCode.Unauthorized,
    "a valid join key of the group is required (Authorization: Bearer <join key>, or X-Kon-Join-Key)",
  );
  if (key === undefined) throw refused;
  const verdict = await deps.joinKeys.check(key, req.socket.remoteAddress ?? "unknown");
  if (verdict.ok) {
    // A key admits to its own group only; another group's path is refused like a wrong key.
    if (verdict.group === group) return true;
    throw refused;
  }
  if (verdict.status === 401) throw refused;
  res.set("Retry-After", String(Math.max(1, Math.ceil(verdict.retryAfterMs / 1000))));
  throw verdict.status === 429
    ? new HttpError(429, KonErrorCode.RateLimited, "too many join-key checks from this address")
    : new HttpError(503, KonErrorCode.Unauthorized, "join keys cannot be checked now; retry");
}

/**
 * HTTP heartbeat ingest, Healthchecks-style, for clients that cannot speak NATS:
 * `POST /v1/heartbeat/:group/:node` with an optional JSON body, or `GET` with query parameters
 * for cron (`curl -fsS -H "Authorization: Bearer $JOIN_KEY"
 * "http://monitor:7002/v1/heartbeat/g1/backup?intervalMs=3600000"`). The group's join key
 * authenticates, in a header only. The heartbeat is published to KON_HB like any other, so the
 * monitors treat it alike. Errors: 400 bad name or body, or a credential in the URL; 401 no,
 * wrong, or another group's key (one answer); 404 unknown group; 413 body or meta too large;
 * 429 over the per-node rate or too many key checks from one address (with Retry-After); 503
 * NATS did not take it, or the admin could not check the key.
 */
export function createIngestRouter(deps: IngestDeps): Router {
  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    res.on("finish", () => deps.metrics.ingest.inc({ status: String(res.statusCode) }));
    next();
  });
  // The key is checked against the group in the path, before the body is read.
  router.use("/:group/:node", (req: Request, res: Response, next: NextFunction) => {
    admit(deps, req, res).then(
      () => next(),
      (err: unknown) => (err instanceof HttpError ? sendError(res, err) : next(err)),
    );
  });
  router.use(express.json({ limit: deps.maxBytes, type: () => true, strict: true }));
  router.all("/:group/:node", (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== "GET" && req.method !== "POST") {
      res.set("Allow", "GET, POST");
      return sendError(
        res,
        new HttpError(405, KonErrorCode.InvalidHeartbeat, `use GET or POST, not ${req.method}`),
      );
    }
    handle(deps, req, res).catch(next);
  });
  router.use(errorHandler(deps.logger));
  return router;
}

async function handle(deps: IngestDeps, req: Request, res: Response): Promise<void> {
  const group = String(req.params.group);
  const node = String(req.params.node);
  if (!isGroupName(group)) {
    throw new HttpError(
      400,
      KonErrorCode.InvalidName,
      `invalid group ${quoteRefused(group)}: use 1-63 of [a-z0-9-]`,
    );
  }
  assertNodeId(node); // InvalidNameError → 400 by the error handler
  if (!deps.groups.isKnown(group)) {
    throw new HttpError(
      404,
      KonErrorCode.UnknownGroup,
      `group ${group} is not known to this monitor`,
    );
  }
  const body = parseBody(req, deps.maxMetaBytes);
  const key = nodeKey(group, node);
  const now = Date.now();
  if (!deps.limiter.allow(key, now)) {
    const wait = deps.limiter.retryAfterMs(key, now);
    res.set("Retry-After", String(Math.max(1, Math.ceil(wait / 1000))));
    // No bucket for the key: refused for room (KON_INGEST_MAX_NODES), not for its own rate.
    const why =
      wait === 0
        ? `HTTP ingest is limiting as many nodes as it may (KON_INGEST_MAX_NODES); retry later`
        : `too many heartbeats for ${key}; retry in ${wait} ms`;
    throw new HttpError(429, KonErrorCode.RateLimited, why);
  }
  const hb = toHeartbeat(group, node, body, now, deps);
  let seq: number;
  try {
    seq = (
      await deps.js.publish(deps.names.heartbeatSubject(group, node), encodeMessage(Heartbeat, hb))
    ).seq;
  } catch (err) {
    deps.logger.warn(`http ingest for ${key} not published: ${String(err)}`);
    throw new HttpError(
      503,
      KonErrorCode.PublishFailed,
      "heartbeat not stored: NATS JetStream unavailable",
    );
  }
  res.status(202).json({
    accepted: true,
    group,
    node,
    seq,
    ttlMs: livenessTtlMs(hb.intervalMs!, hb.allowedMisses!),
  });
}

function parseBody(req: Request, maxMetaBytes: number): IngestBody {
  const raw: unknown = req.method === "GET" ? fromQuery(req.query) : (req.body ?? {});
  const parsed = ingestBody.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      field: i.path.map(String).join(".") || "body",
      message: i.message,
    }));
    const first = issues[0]!;
    throw new HttpError(
      400,
      KonErrorCode.InvalidHeartbeat,
      `invalid heartbeat ${first.field}: ${first.message}`,
      issues,
    );
  }
  const meta = parsed.data.meta ?? {};
  const bytes = metaBytes(meta);
  if (bytes > maxMetaBytes) {
    throw new HttpError(
      413,
      KonErrorCode.PayloadTooLarge,
      `meta is ${bytes} bytes (keys plus values); the limit is ${maxMetaBytes}`,
    );
  }
  return parsed.data;
}

function toHeartbeat(
  group: string,
  node: string,
  b: IngestBody,
  now: number,
  deps: IngestDeps,
): HeartbeatInit {
  return {
    group,
    nodeId: node,
    seq: b.seq ?? 0,
    sentAtMs: b.sentAtMs ?? now,
    uptimeMs: b.uptimeMs ?? 0,
    intervalMs: b.intervalMs ?? deps.defaultIntervalMs,
    allowedMisses: b.allowedMisses ?? deps.defaultMisses,
    leaving: b.leaving ?? false,
    process: {
      instanceId: b.instanceId ?? "",
      serviceName: b.serviceName ?? "",
      serviceVersion: b.serviceVersion ?? "",
      sdkVersion: "http",
    },
    config: b.config ?? {},
    meta: b.meta ?? {},
  };
}
