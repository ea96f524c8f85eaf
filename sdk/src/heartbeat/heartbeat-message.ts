import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { ConfigRevisionInit, HeartbeatInit, ProcessInfoInit } from "@konorkestra/proto";
import type { AppliedRevision } from "../applied-registry";

let cachedSdkVersion: string | undefined;

/** `version` of `@konorkestra/sdk`'s package.json (same relative path from src/ and dist/). */
export function sdkVersion(): string {
  if (cachedSdkVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as {
        name?: unknown;
        version?: unknown;
      };
      cachedSdkVersion =
        pkg.name === "@konorkestra/sdk" && typeof pkg.version === "string"
          ? pkg.version
          : "unknown";
    } catch {
      // Bundled or relocated code: a heartbeat without the version is still a heartbeat.
      cachedSdkVersion = "unknown";
    }
  }
  return cachedSdkVersion;
}

/** What does not change between two beats of one heartbeat lineage. */
export interface HeartbeatIdentity {
  group: string;
  nodeId: string;
  intervalMs: number;
  allowedMisses: number;
  serviceName: string;
  serviceVersion: string;
  /** Random per lineage; a new value under the same node id means the node restarted. */
  instanceId: string;
  meta: Record<string, string>;
}

/** What changes from beat to beat. */
export interface HeartbeatState {
  seq: number;
  sentAtMs: number;
  leaving: boolean;
  applied: Record<string, AppliedRevision>;
}

/** Whole, non-negative numbers only: protobuf would otherwise truncate or refuse them. */
const revisionNumber = (n: number | undefined): number =>
  n !== undefined && Number.isSafeInteger(n) && n > 0 ? n : 0;

/** Maps the applied registry onto `Heartbeat.config`. */
export function configRevisions(
  applied: Record<string, AppliedRevision>,
): Record<string, ConfigRevisionInit> {
  const out: Record<string, ConfigRevisionInit> = {};
  for (const [key, rev] of Object.entries(applied)) {
    out[key] = {
      revision: revisionNumber(rev.revision),
      sha256: rev.sha256,
      appliedAtMs: revisionNumber(rev.appliedAtMs),
      rejectedRevision: revisionNumber(rev.rejectedRevision),
      pendingRevision: revisionNumber(rev.pendingRevision),
    };
  }
  return out;
}

/** The `Heartbeat` message for one beat. */
export function buildHeartbeat(id: HeartbeatIdentity, state: HeartbeatState): HeartbeatInit {
  const proc: ProcessInfoInit = {
    pid: process.pid,
    hostname: hostname(),
    sdkVersion: sdkVersion(),
    nodeVersion: process.version,
    serviceName: id.serviceName,
    serviceVersion: id.serviceVersion,
    instanceId: id.instanceId,
  };
  return {
    group: id.group,
    nodeId: id.nodeId,
    seq: state.seq,
    sentAtMs: state.sentAtMs,
    uptimeMs: Math.round(process.uptime() * 1000),
    intervalMs: id.intervalMs,
    allowedMisses: id.allowedMisses,
    leaving: state.leaving,
    process: proc,
    config: configRevisions(state.applied),
    meta: id.meta,
  };
}

/**
 * Index of the next beat on the grid `anchor + k × interval` (monotonic ms), after the beat of
 * slot `lastSlot`. Slots already past are skipped, not made up: after a stalled event loop a
 * node sends one beat, not a burst; and a timer that fires a hair early cannot beat twice.
 */
export function nextBeatSlot(
  anchor: number,
  now: number,
  intervalMs: number,
  lastSlot: number,
): number {
  return Math.max(lastSlot + 1, Math.floor((now - anchor) / intervalMs) + 1);
}
