import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { jetstream } from "@nats-io/jetstream";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { HeartbeatHandle, Konorkestra, Logger } from "@konorkestra/sdk";
import {
  MAX_INTERVAL_MS,
  MAX_META_BYTES,
  MAX_MISSES,
  MIN_INTERVAL_MS,
  buildHeartbeat,
  isNodeId,
  livenessTtlMs,
} from "@konorkestra/sdk/internal";
import type { AppliedRevision } from "@konorkestra/sdk/internal";
import { AgentErrorCode, AgentHttpError, sendJson } from "./agent-http-error";
import { readJsonBody } from "./request-body";

/** Largest heartbeat request body, in bytes. */
const MAX_BODY_BYTES = 16 * 1024;
/** Most nodes the agent beats for at once; the longest silent is forgotten first. */
const MAX_NODES = 10_000;
/** A node silent this long is forgotten (its next beat starts a new lineage). */
const FORGET_AFTER_MS = 60 * 60 * 1000;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** Body of `POST /v1/heartbeat`, in the same words as the monitor's HTTP ingest. */
const beatBody = z
  .object({
    /** Node id to beat for; omitted: the agent's own node (its SDK heartbeat beats now). */
    node: z.string().refine(isNodeId, "use 1-128 of letters, digits, '_', '-' or '='").optional(),
    intervalMs: int(MIN_INTERVAL_MS, MAX_INTERVAL_MS).default(1000),
    allowedMisses: int(1, MAX_MISSES).default(3),
    leaving: z.boolean().default(false),
    instanceId: z.string().min(1).max(128).optional(),
    serviceName: z.string().max(128).default(""),
    serviceVersion: z.string().max(128).default(""),
    pid: int(0, 2 ** 31 - 1).optional(),
    meta: z.record(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_./-]{0,62}$/), z.string()).default({}),
    /** Config key → the revision the caller runs (its sha256 is filled in when the agent knows it). */
    config: z.record(z.string().min(1).max(255), int(0, Number.MAX_SAFE_INTEGER)).default({}),
  })
  .strict();
type BeatBody = z.output<typeof beatBody>;

interface Lineage {
  readonly instanceId: string;
  seq: number;
  lastAtMs: number;
  /** key → revision and when it was first reported. */
  readonly applied: Map<string, AppliedRevision>;
}

/** sha256 of a key's revision, when the agent serves that revision. */
export type ShaLookup = (key: string, revision: number) => string;

/**
 * `POST /v1/heartbeat`: beats for processes that cannot speak NATS. Each call is one beat of
 * `node`, built as the SDK builds its own and stored in KON_HB (acknowledged), so the monitors
 * treat it like any other: when the calls stop, the node goes down; `leaving: true` is a clean
 * leave. Without `node`, the agent's own SDK heartbeat beats at once. Each node keeps a lineage
 * (instance id, seq) across calls; one beat per node per 100 ms at most (a leave always goes).
 */
export class HeartbeatRelay {
  private readonly lineages = new Map<string, Lineage>();

  constructor(
    private readonly kon: Konorkestra,
    private readonly own: HeartbeatHandle,
    private readonly shaOf: ShaLookup,
    private readonly logger: Logger,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = parseBody(await readJsonBody(req, MAX_BODY_BYTES));
    if (body.node === undefined || body.node === this.kon.nodeId) return this.ownBeat(body, res);
    const node = body.node;
    const now = Date.now();
    const lineage = this.lineageOf(node, body.instanceId, now);
    // A leave is never held back: it is the last word, and refusing it would make a node.down.
    if (!body.leaving && now - lineage.lastAtMs < MIN_INTERVAL_MS) {
      throw new AgentHttpError(
        AgentErrorCode.RateLimited,
        `node ${node} beat less than ${MIN_INTERVAL_MS} ms ago`,
        { node },
        { "retry-after": "1" },
      );
    }
    const seq = lineage.seq + 1;
    const hb = buildHeartbeat(
      {
        group: this.kon.group,
        nodeId: node,
        intervalMs: body.intervalMs,
        allowedMisses: body.allowedMisses,
        serviceName: body.serviceName,
        serviceVersion: body.serviceVersion,
        instanceId: lineage.instanceId,
        meta: body.meta,
      },
      { seq, sentAtMs: now, leaving: body.leaving, applied: this.applied(lineage, body, now) },
    );
    // The process is the caller's, not the agent's.
    hb.process = { ...hb.process, pid: body.pid ?? 0 };
    const stored = await this.publish(node, encodeMessage(Heartbeat, hb));
    lineage.seq = seq;
    lineage.lastAtMs = now;
    if (body.leaving) this.lineages.delete(node);
    sendJson(res, 202, {
      node,
      seq,
      instanceId: lineage.instanceId,
      leaving: body.leaving,
      stored: stored,
      ttlMs: livenessTtlMs(body.intervalMs, body.allowedMisses),
    });
  }

  private ownBeat(body: BeatBody, res: ServerResponse): void {
    if (body.leaving) {
      throw new AgentHttpError(
        AgentErrorCode.InvalidInput,
        `node ${this.kon.nodeId} is the agent's own: it leaves when the agent stops`,
        { node: this.kon.nodeId },
      );
    }
    const sent = this.own.beatNow();
    sendJson(res, 202, {
      node: this.kon.nodeId,
      seq: this.own.seq,
      instanceId: this.own.instanceId,
      leaving: false,
      // A beat under 100 ms after the last one is not sent again: the last one stands for it.
      sent,
    });
  }

  private lineageOf(node: string, instanceId: string | undefined, now: number): Lineage {
    const known = this.lineages.get(node);
    if (known && (instanceId === undefined || instanceId === known.instanceId)) {
      if (now - known.lastAtMs < FORGET_AFTER_MS) return known;
    }
    this.makeRoom(now);
    const fresh: Lineage = {
      instanceId: instanceId ?? randomUUID(),
      seq: 0,
      lastAtMs: 0,
      applied: new Map(),
    };
    this.lineages.set(node, fresh);
    return fresh;
  }

  private makeRoom(now: number): void {
    for (const [node, l] of this.lineages) {
      if (now - l.lastAtMs >= FORGET_AFTER_MS) this.lineages.delete(node);
    }
    while (this.lineages.size >= MAX_NODES) {
      let oldest: [string, number] | undefined;
      for (const [node, l] of this.lineages) {
        if (!oldest || l.lastAtMs < oldest[1]) oldest = [node, l.lastAtMs];
      }
      if (!oldest) break;
      this.lineages.delete(oldest[0]);
    }
  }

  private applied(l: Lineage, body: BeatBody, now: number): Record<string, AppliedRevision> {
    for (const key of [...l.applied.keys()]) if (!(key in body.config)) l.applied.delete(key);
    for (const [key, revision] of Object.entries(body.config)) {
      if (l.applied.get(key)?.revision === revision) continue;
      l.applied.set(key, { revision, sha256: this.shaOf(key, revision), appliedAtMs: now });
    }
    return Object.fromEntries(l.applied);
  }

  private async publish(node: string, data: Uint8Array): Promise<number> {
    const nc = this.kon.connection;
    if (!nc || nc.isClosed()) {
      throw new AgentHttpError(
        AgentErrorCode.Unavailable,
        "not connected to NATS",
        {},
        {
          "retry-after": "1",
        },
      );
    }
    try {
      const ack = await jetstream(nc).publish(
        this.kon.names.heartbeatSubject(this.kon.group, node),
        data,
        {
          timeout: 2000,
        },
      );
      return ack.seq;
    } catch (err) {
      this.logger.warn(`heartbeat of ${node} not stored: ${String(err)}`);
      throw new AgentHttpError(
        AgentErrorCode.Unavailable,
        "heartbeat not stored: NATS JetStream did not acknowledge it",
        {},
        { "retry-after": "1" },
      );
    }
  }
}

function parseBody(raw: unknown): BeatBody {
  const parsed = beatBody.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({
      field: i.path.map(String).join(".") || "body",
      message: i.message,
    }));
    const first = issues[0]!;
    throw new AgentHttpError(
      AgentErrorCode.InvalidInput,
      `invalid heartbeat ${first.field}: ${first.message}`,
      { issues },
    );
  }
  const meta = parsed.data.meta;
  const bytes = Object.entries(meta).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
    0,
  );
  if (bytes > MAX_META_BYTES) {
    throw new AgentHttpError(
      AgentErrorCode.PayloadTooLarge,
      `meta is ${bytes} bytes (keys plus values); the limit is ${MAX_META_BYTES}`,
    );
  }
  return parsed.data;
}
