// CPU per heartbeat of the monitor's decision path, in one process, with no broker:
//   node testkit/src/run-ts.cjs heartbeat/scripts/decision-cost.ts [--nodes 10000] [--beats 300000] [--rounds 5]
//
// Replays `beats` KON_HB deliveries of `nodes` nodes beating at 1 Hz (server time advances
// 1000/nodes ms per beat) through the real LivenessEngine (HeartbeatValidator, TokenBuckets,
// NodeTracker, DetectionClock, metrics) as HeartbeatConsumer hands them over, with the engine
// swept every 100 ms of server time. The store, publisher, membership and KON_HB look-ups are
// stand-ins that count what reaches them; the store asks for no refresh (its own cost is the
// backend's, measured elsewhere). Each beat's subject is a fresh string, as the feed decodes one
// per delivery, and its payload a view of a recently written read buffer, as the feed's is. The
// replay's own work (those strings and views, the loop) is measured alone and reported apart.
// Each round is a fresh monitor; every node's first beat (an up) is replayed before the clock
// starts, so the figure is the steady beat's. Reports the best round; the first warms up.
import { randomUUID } from "node:crypto";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { buildHeartbeat, wireNames } from "@konorkestra/sdk/internal";
import type { LivenessBackend } from "../src/backends/liveness-backend";
import { DetectionClock } from "../src/detection-clock";
import type { EventPublisher } from "../src/event-publisher";
import type { HeartbeatHistory } from "../src/heartbeat-history";
import { HeartbeatValidator } from "../src/heartbeat-validator";
import { LivenessEngine } from "../src/liveness-engine";
import type { Membership } from "../src/membership";
import { createMonitorMetrics } from "../src/metrics";
import { NodeTracker } from "../src/node-tracker";
import { TokenBuckets } from "../src/token-buckets";

export interface DecisionCost {
  readonly nodes: number;
  readonly beats: number;
  readonly rounds: number;
  /** CPU microseconds per beat (user + system) of the decision path, best round. */
  readonly usPerBeat: number;
  /** Of every round, after the warm-up. */
  readonly allUsPerBeat: number[];
  /** CPU microseconds per beat of the replay alone (strings, views, loop), not in `usPerBeat`. */
  readonly replayUsPerBeat: number;
  /** What reached the stand-ins in the last round (a check that the path ran as live). */
  readonly seen: { events: number; refreshAsks: number; lookups: number; rejected: number };
}

const silent: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
} as unknown as Logger;

export function measureDecisionCost(nodes = 10_000, beats = 300_000, rounds = 5): DecisionCost {
  const names = wireNames("kon");
  const group = "bench";
  const payloads: Uint8Array[] = [];
  const subjects: Buffer[] = [];
  for (let i = 0; i < nodes; i++) {
    const nodeId = `node-${i}`;
    payloads.push(
      encodeMessage(
        Heartbeat,
        buildHeartbeat(
          {
            group,
            nodeId,
            intervalMs: 1000,
            allowedMisses: 3,
            serviceName: "bench-svc",
            serviceVersion: "1.0.0",
            instanceId: randomUUID(),
            meta: { zone: "bench" },
          },
          {
            seq: 1,
            sentAtMs: Date.now(),
            leaving: false,
            applied: { service1: { revision: 3, sha256: "5e".repeat(32), appliedAtMs: 1 } },
          },
        ),
      ),
    );
    subjects.push(Buffer.from(names.heartbeatSubject(group, nodeId)));
  }

  const all: number[] = [];
  let replayUs = Infinity;
  let seen = { events: 0, refreshAsks: 0, lookups: 0, rejected: 0 };
  for (let r = 0; r <= rounds; r++) {
    const startMs = Date.now();
    let sweptAt = startMs;
    const counts = { events: 0, refreshAsks: 0, lookups: 0, rejected: 0 };
    // Local time: the newest beat's server time plus 2 ms of delivery.
    let lastAtMs = startMs;
    const clock = new DetectionClock(() => lastAtMs + 2);
    const tracker = new NodeTracker({
      flapCount: 3,
      flapWindowMs: 60_000,
      massFailurePct: 30,
      massFailureMinNodes: 10,
      maxNodes: 1_000_000,
    });
    const validator = new HeartbeatValidator({
      names,
      // Beats carry the sender time they were built with: no skew flag however long the replay.
      maxSkewMs: 24 * 3600_000,
      maxMetaBytes: 4096,
      defaultIntervalMs: 1000,
      defaultMisses: 3,
      isKnownGroup: (g) => g === group,
    });
    const metrics = createMonitorMetrics(`bench-${r}`);
    const origInc = metrics.rejected.inc.bind(metrics.rejected);
    metrics.rejected.inc = ((...a: Parameters<typeof origInc>) => {
      counts.rejected += 1;
      return origInc(...a);
    }) as typeof metrics.rejected.inc;
    const backend = {
      kind: "nats",
      claimsDowns: false,
      wantsRefresh: () => {
        counts.refreshAsks += 1;
        return false;
      },
      refresh: () => undefined,
      forget: () => undefined,
      record: () => Promise.resolve(),
    } as unknown as LivenessBackend;
    const publisher = {
      tick: () => undefined,
      submit: () => {
        counts.events += 1;
      },
      publish: () => {
        counts.events += 1;
      },
    } as unknown as EventPublisher;
    const membership = {
      self: "m1",
      owner: () => "m1",
      members: () => ["m1"],
    } as unknown as Membership;
    const history = {
      before: () => {
        counts.lookups += 1;
        return Promise.resolve(null);
      },
      next: () => {
        counts.lookups += 1;
        return Promise.resolve(null);
      },
    } as unknown as HeartbeatHistory;
    const engine = new LivenessEngine({
      names,
      tracker,
      clock,
      validator,
      history,
      backend,
      publisher,
      membership,
      limiter: new TokenBuckets(5, 20, 1_000_000, "allow"),
      forgetAfterMs: 24 * 3600_000,
      metrics,
      logger: silent,
    });
    const replay = replayer(subjects, payloads, nodes, startMs);
    const apply = (raw: Raw) => {
      lastAtMs = raw.atMs;
      const pending = engine.onHeartbeat(raw, 0);
      if (pending) void pending.then(() => undefined);
      if (raw.atMs - sweptAt >= 100) {
        sweptAt = raw.atMs;
        engine.sweep();
      }
    };
    // Every node's first beat (an up) before the clock starts: the steady beat is measured.
    replay(0, nodes, apply);
    const before = process.cpuUsage();
    replay(nodes, beats, apply);
    const used = process.cpuUsage(before);
    // The same replay into a sink that only reads what it is given.
    let sum = 0;
    const idle = process.cpuUsage();
    replay(nodes, beats, (raw) => {
      sum += raw.subject.length + raw.data.length;
      if (raw.atMs - sweptAt >= 100) sweptAt = raw.atMs;
    });
    const usedIdle = process.cpuUsage(idle);
    if (sum === 0) throw new Error("nothing replayed");
    const us = (used.user + used.system) / beats;
    const usIdle = (usedIdle.user + usedIdle.system) / beats;
    if (r > 0) {
      all.push(us - usIdle);
      replayUs = Math.min(replayUs, usIdle);
    }
    seen = counts;
  }
  return {
    nodes,
    beats,
    rounds,
    usPerBeat: Math.min(...all),
    allUsPerBeat: all,
    replayUsPerBeat: replayUs,
    seen,
  };
}

type Raw = { subject: string; data: Uint8Array; seq: number; atMs: number };

/**
 * Hands deliveries to `sink` as the feed would: a fresh subject string, the payload copied into a
 * 64 KiB read buffer and passed as a view of it, server time 1000/nodes ms apart from `startMs`.
 */
function replayer(subjects: Buffer[], payloads: Uint8Array[], nodes: number, startMs: number) {
  const readBuf = Buffer.alloc(64 * 1024);
  let readAt = 0;
  const stepMs = 1000 / nodes;
  /** Beats `from` to `from + count - 1` of the replay. */
  return (from: number, count: number, sink: (raw: Raw) => void): void => {
    for (let i = from; i < from + count; i++) {
      const n = i % nodes;
      const payload = payloads[n]!;
      if (readAt + payload.length > readBuf.length) readAt = 0;
      readBuf.set(payload, readAt);
      const data = readBuf.subarray(readAt, (readAt += payload.length));
      const subject = subjects[n]!.toString("latin1");
      sink({ subject, data, seq: i + 1, atMs: Math.floor(startMs + i * stepMs) });
    }
  };
}

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} wants a positive number`);
  return v;
}

// Run as a script (through run-ts, which is then `require.main`), not when imported.
if (process.argv[1] !== undefined && process.argv[1].endsWith("decision-cost.ts")) {
  const args = process.argv.slice(2);
  const out = measureDecisionCost(
    flag(args, "nodes", 10_000),
    flag(args, "beats", 300_000),
    flag(args, "rounds", 5),
  );
  const round = (x: number) => Math.round(x * 100) / 100;
  console.log(
    JSON.stringify({
      ...out,
      usPerBeat: round(out.usPerBeat),
      allUsPerBeat: out.allUsPerBeat.map(round),
      replayUsPerBeat: round(out.replayUsPerBeat),
    }),
  );
}
