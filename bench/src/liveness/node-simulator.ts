import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { buildHeartbeat } from "@konorkestra/sdk/internal";
import type { AppliedRevision, HeartbeatIdentity } from "@konorkestra/sdk/internal";
import { BeatSchedule } from "./beat-schedule";

/** Where beats go: core NATS heartbeats, KV puts with a TTL, or Redis SETs with PX. */
export interface BeatSink {
  /** Sends one beat without waiting; failures are the sink's to count. */
  send(nodeId: string, payload: Uint8Array): void;
}

/** Settings of the simulated fleet. */
export interface SimulatorOptions {
  group: string;
  nodeIds: readonly string[];
  /** @default 1000 */
  intervalMs?: number;
  /** TTL = interval × allowed misses. @default 3 */
  allowedMisses?: number;
  /** Period of the one scheduling timer. @default 5 */
  tickMs?: number;
}

/** What the simulator achieved over a window (since start or since {@link NodeSimulator.mark}). */
export interface SimulatorStats {
  readonly windowS: number;
  readonly beats: number;
  readonly beatsPerSec: number;
  /** Beats per second the nodes that were beating should have sent. */
  readonly expectedPerSec: number;
  /** Latest a beat went out after its slot on the grid, in the window. */
  readonly maxLatenessMs: number;
  /** The same since the simulator started. */
  readonly maxLatenessAllMs: number;
}

interface SimNode {
  readonly identity: HeartbeatIdentity;
  seq: number;
  beating: boolean;
}

/**
 * N nodes beating as the SDK does (a protobuf `Heartbeat` built by the SDK's own
 * `buildHeartbeat`, seq +1 per beat, interval and allowed misses in every beat), driven by one
 * timer over an evenly spread grid ({@link BeatSchedule}). It measures itself: a simulator whose
 * timer runs late makes nodes look silent, which is not the monitor's fault.
 */
export class NodeSimulator {
  private readonly nodes: SimNode[];
  private readonly intervalMs: number;
  private readonly tickMs: number;
  private readonly applied: Record<string, AppliedRevision>;
  private schedule: BeatSchedule | undefined;
  private timer: NodeJS.Timeout | undefined;
  private windowStart = 0;
  private windowBeats = 0;
  private windowLateness = 0;
  private allLateness = 0;
  private expectedBeatMs = 0;
  private expectedSince = 0;

  constructor(
    private readonly sink: BeatSink,
    opts: SimulatorOptions,
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.tickMs = opts.tickMs ?? 5;
    const misses = opts.allowedMisses ?? 3;
    this.nodes = opts.nodeIds.map((nodeId) => ({
      identity: {
        group: opts.group,
        nodeId,
        intervalMs: this.intervalMs,
        allowedMisses: misses,
        serviceName: "bench-sim",
        serviceVersion: "1.0.0",
        instanceId: randomUUID(),
        meta: { zone: "bench" },
      },
      seq: 0,
      beating: true,
    }));
    // One applied config key, as a service using the SDK would report.
    this.applied = {
      service1: { revision: 42, sha256: "5e".repeat(32), appliedAtMs: Date.now() },
    };
  }

  /** Starts every node; the first beats go out over the first interval. */
  start(): void {
    if (this.timer) return;
    const now = performance.now();
    this.schedule = new BeatSchedule(this.nodes.length, this.intervalMs, now);
    this.mark();
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.tick();
  }

  /** Stops these nodes without a word, as a crash would. */
  stop(indexes: readonly number[]): void {
    this.accountExpected();
    for (const i of indexes) {
      const n = this.nodes[i];
      if (n) n.beating = false;
    }
  }

  /** Starts a new measurement window. */
  mark(): void {
    this.windowStart = performance.now();
    this.windowBeats = 0;
    this.windowLateness = 0;
    this.expectedBeatMs = 0;
    this.expectedSince = this.windowStart;
  }

  stats(): SimulatorStats {
    this.accountExpected();
    const windowS = (performance.now() - this.windowStart) / 1000;
    return {
      windowS,
      beats: this.windowBeats,
      beatsPerSec: windowS > 0 ? this.windowBeats / windowS : 0,
      expectedPerSec: windowS > 0 ? this.expectedBeatMs / this.intervalMs / windowS : 0,
      maxLatenessMs: this.windowLateness,
      maxLatenessAllMs: this.allLateness,
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.schedule?.take(performance.now(), (i, dueMs) => {
      const n = this.nodes[i]!;
      if (!n.beating) return;
      n.seq += 1;
      const payload = encodeMessage(
        Heartbeat,
        buildHeartbeat(n.identity, {
          seq: n.seq,
          sentAtMs: Date.now(),
          leaving: false,
          applied: this.applied,
        }),
      );
      this.sink.send(n.identity.nodeId, payload);
      const late = performance.now() - dueMs;
      if (late > this.windowLateness) this.windowLateness = late;
      if (late > this.allLateness) this.allLateness = late;
      this.windowBeats++;
    });
  }

  /** Node-milliseconds of beating since the last account, for the expected beat rate. */
  private accountExpected(): void {
    const now = performance.now();
    const beating = this.nodes.reduce((s, n) => s + (n.beating ? 1 : 0), 0);
    this.expectedBeatMs += beating * (now - this.expectedSince);
    this.expectedSince = now;
  }
}
