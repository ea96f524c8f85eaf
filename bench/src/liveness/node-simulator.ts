import { randomUUID } from "node:crypto";
import { performance } from "node:perf_hooks";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { buildHeartbeat } from "@konorkestra/sdk/internal";
import type { AppliedRevision, HeartbeatIdentity } from "@konorkestra/sdk/internal";
import { BeatSchedule } from "./beat-schedule";
import { HeartbeatTemplate } from "./heartbeat-template";

/** Where beats go: core NATS heartbeats, KV puts with a TTL, or Redis SETs with PX. */
export interface BeatSink {
  /**
   * Sends one beat without waiting; failures are the sink's to count. `payload` is the sink's
   * to keep (its bytes are never written again).
   */
  send(nodeId: string, payload: Uint8Array): void;
  /**
   * Optional, NATS only: the sink takes whole core-NATS `PUB` frames (`PUB <subject> <len>\r\n
   * <beat>\r\n`) of several beats in one buffer; the simulator then uses this instead of `send`.
   */
  readonly frames?: {
    subject(nodeId: string): string;
    write(frames: Uint8Array, beats: number): void;
  };
}

/**
 * How beats are encoded: `template` (default) patches seq and the two timestamps into bytes
 * encoded once per node ({@link HeartbeatTemplate}); `sdk` builds and encodes every beat with
 * the SDK's `buildHeartbeat` and `encodeMessage`, as a service's heartbeat client does (what the
 * simulator did before; kept to measure one against the other). The bytes are the same.
 */
export type BeatEncoder = "template" | "sdk";

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
  /** @default "template" */
  encoder?: BeatEncoder;
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
  /** When that latest beat was due, in seconds after the simulator started. */
  readonly maxLatenessAllAtS: number;
  /** Beats sent since the start. */
  readonly beatsTotal: number;
  /**
   * CPU seconds of this process while the simulator's ticks ran (encoding, the sink's sends and
   * the connection's flush of them, TLS included), in the window: see {@link NodeSimulator}.
   */
  readonly cpuS: number;
  /** cpuS per wall second: the share of one core the simulator took. */
  readonly cores: number;
  /** cpuS per beat, microseconds. */
  readonly cpuUsPerBeat: number;
}

interface SimNode {
  readonly identity: HeartbeatIdentity;
  readonly template: HeartbeatTemplate;
  /** `PUB <subject> ` in ASCII, when the sink takes frames. */
  readonly pubHead: Uint8Array | undefined;
  seq: number;
  beating: boolean;
}

/** Beats are written into slabs of this size, one after another; a full slab is left to GC. */
const SLAB_BYTES = 64 * 1024;
/** Room for a frame's length digits and its two CRLFs. */
const FRAME_EXTRA = 8;
const CR = 13;
const LF = 10;

/**
 * N nodes beating as the SDK does (a protobuf `Heartbeat` byte for byte as the SDK's own
 * `buildHeartbeat` + `encodeMessage` give it, seq +1 per beat, interval and allowed misses in
 * every beat), driven by one timer over an evenly spread grid ({@link BeatSchedule}).
 *
 * Cheap per beat: each node's beat is encoded once ({@link HeartbeatTemplate}) and only seq,
 * `sent_at_ms` and `uptime_ms` are written per beat, into a shared slab (no allocation per beat);
 * with a NATS sink that takes frames, the beat goes into the slab inside its whole `PUB` frame
 * (subject prefix prepared per node) and a tick hands all its frames to the connection at once.
 * The beats of one tick share one `Date.now()` and one uptime: they leave in the same socket write
 * (a NATS connection flushes what was queued in one event-loop turn in one write).
 *
 * It measures itself: how late its timer ran (a simulator whose timer runs late makes nodes look
 * silent, which is not the monitor's fault), and its own CPU: `process.cpuUsage()` from the start
 * of each tick to a microtask queued at its end, which runs after the NATS client's flush (also a
 * microtask, queued at the tick's first publish). That is this process's CPU over those moments
 * (its other threads included: GC helpers, and nothing else of the bench runs meanwhile).
 */
export class NodeSimulator {
  private readonly nodes: SimNode[];
  private readonly intervalMs: number;
  private readonly tickMs: number;
  private readonly encoder: BeatEncoder;
  private readonly applied: Record<string, AppliedRevision>;
  private schedule: BeatSchedule | undefined;
  private timer: NodeJS.Timeout | undefined;
  private slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private slabAt = 0;
  /** Start in the slab of the frames not yet handed to the sink, and how many beats they hold. */
  private batchAt = 0;
  private batchBeats = 0;
  private windowStart = 0;
  private windowBeats = 0;
  private totalBeats = 0;
  private windowLateness = 0;
  private allLateness = 0;
  private allLatenessAt = 0;
  private startedAt = 0;
  private windowCpuUs = 0;
  private expectedBeatMs = 0;
  private expectedSince = 0;

  constructor(
    private readonly sink: BeatSink,
    opts: SimulatorOptions,
  ) {
    this.intervalMs = opts.intervalMs ?? 1000;
    this.tickMs = opts.tickMs ?? 5;
    this.encoder = opts.encoder ?? "template";
    const misses = opts.allowedMisses ?? 3;
    // One applied config key, as a service using the SDK would report.
    this.applied = {
      service1: { revision: 42, sha256: "5e".repeat(32), appliedAtMs: Date.now() },
    };
    this.nodes = opts.nodeIds.map((nodeId) => {
      const identity: HeartbeatIdentity = {
        group: opts.group,
        nodeId,
        intervalMs: this.intervalMs,
        allowedMisses: misses,
        serviceName: "bench-sim",
        serviceVersion: "1.0.0",
        instanceId: randomUUID(),
        meta: { zone: "bench" },
      };
      const frames = this.encoder === "template" ? sink.frames : undefined;
      return {
        identity,
        template: new HeartbeatTemplate(identity, this.applied),
        pubHead: frames ? Buffer.from(`PUB ${frames.subject(nodeId)} `, "latin1") : undefined,
        seq: 0,
        beating: true,
      };
    });
  }

  /** Starts every node; the first beats go out over the first interval. */
  start(): void {
    if (this.timer) return;
    const now = performance.now();
    this.startedAt = now;
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
    this.windowCpuUs = 0;
    this.expectedBeatMs = 0;
    this.expectedSince = this.windowStart;
  }

  stats(): SimulatorStats {
    this.accountExpected();
    const windowS = (performance.now() - this.windowStart) / 1000;
    const cpuS = this.windowCpuUs / 1e6;
    return {
      windowS,
      beats: this.windowBeats,
      beatsPerSec: windowS > 0 ? this.windowBeats / windowS : 0,
      expectedPerSec: windowS > 0 ? this.expectedBeatMs / this.intervalMs / windowS : 0,
      maxLatenessMs: this.windowLateness,
      maxLatenessAllMs: this.allLateness,
      maxLatenessAllAtS: (this.allLatenessAt - this.startedAt) / 1000,
      beatsTotal: this.totalBeats,
      cpuS,
      cores: windowS > 0 ? cpuS / windowS : NaN,
      cpuUsPerBeat: this.windowBeats > 0 ? this.windowCpuUs / this.windowBeats : NaN,
    };
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    const cpu0 = process.cpuUsage();
    const now = performance.now();
    const sentAtMs = Date.now();
    const uptimeMs = Math.round(process.uptime() * 1000);
    let late = 0;
    let lateDue = 0;
    const beats = this.schedule?.take(now, (i, dueMs) => {
      const n = this.nodes[i]!;
      if (!n.beating) return;
      n.seq += 1;
      if (n.pubHead) this.frame(n, sentAtMs, uptimeMs);
      else this.sink.send(n.identity.nodeId, this.encode(n, sentAtMs, uptimeMs));
      if (now - dueMs > late) {
        late = now - dueMs;
        lateDue = dueMs;
      }
      this.windowBeats++;
      this.totalBeats++;
    });
    if (!beats) return;
    this.writeBatch();
    // Lateness: when the tick took the beat, against its slot (the sends follow within µs).
    if (late > this.windowLateness) this.windowLateness = late;
    if (late > this.allLateness) {
      this.allLateness = late;
      this.allLatenessAt = lateDue;
    }
    // After the NATS client's flush microtask (queued at this tick's first publish).
    queueMicrotask(() => {
      const used = process.cpuUsage(cpu0);
      this.windowCpuUs += used.user + used.system;
    });
  }

  private encode(n: SimNode, sentAtMs: number, uptimeMs: number): Uint8Array {
    if (this.encoder === "sdk") {
      return encodeMessage(
        Heartbeat,
        buildHeartbeat(n.identity, { seq: n.seq, sentAtMs, leaving: false, applied: this.applied }),
      );
    }
    if (this.slabAt + n.template.maxBytes > this.slab.length) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabAt = this.batchAt = 0;
    }
    const start = this.slabAt;
    this.slabAt += n.template.write(this.slab, start, n.seq, sentAtMs, uptimeMs);
    return this.slab.subarray(start, this.slabAt);
  }

  /** Appends the node's `PUB` frame to the batch. */
  private frame(n: SimNode, sentAtMs: number, uptimeMs: number): void {
    const head = n.pubHead!;
    const len = n.template.byteLength(n.seq, sentAtMs, uptimeMs);
    if (this.slabAt + head.length + len + FRAME_EXTRA > this.slab.length) {
      this.writeBatch();
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.slabAt = this.batchAt = 0;
    }
    const slab = this.slab;
    let at = this.slabAt;
    slab.set(head, at);
    at += head.length;
    at += slab.write(String(len), at, "latin1");
    slab[at++] = CR;
    slab[at++] = LF;
    at += n.template.write(slab, at, n.seq, sentAtMs, uptimeMs);
    slab[at++] = CR;
    slab[at++] = LF;
    this.slabAt = at;
    this.batchBeats++;
  }

  /** Hands the frames written since the last batch to the sink (they are never written again). */
  private writeBatch(): void {
    if (this.batchBeats === 0) return;
    this.sink.frames!.write(this.slab.subarray(this.batchAt, this.slabAt), this.batchBeats);
    this.batchAt = this.slabAt;
    this.batchBeats = 0;
  }

  /** Node-milliseconds of beating since the last account, for the expected beat rate. */
  private accountExpected(): void {
    const now = performance.now();
    const beating = this.nodes.reduce((s, n) => s + (n.beating ? 1 : 0), 0);
    this.expectedBeatMs += beating * (now - this.expectedSince);
    this.expectedSince = now;
  }
}
