import { Heartbeat } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import { wireNames } from "@konorkestra/sdk/internal";
import type { LivenessBackend } from "../src/backends/liveness-backend";
import { DetectionClock } from "../src/detection-clock";
import type { EventPublisher } from "../src/event-publisher";
import type { HeartbeatHistory } from "../src/heartbeat-history";
import { HeartbeatValidator } from "../src/heartbeat-validator";
import { HeartbeatBody } from "../src/heartbeat-wire";
import { LivenessEngine } from "../src/liveness-engine";
import type { Membership } from "../src/membership";
import { createMonitorMetrics } from "../src/metrics";
import type { TrackedHeartbeat, TrackerEvent } from "../src/node-liveness";
import { NodeTracker } from "../src/node-tracker";
import { TokenBuckets } from "../src/token-buckets";

const names = wireNames("kon");

/** The last beat of g1.a, stored 10 s ago with a 1 s TTL: long expired. */
function lastBeat(): TrackedHeartbeat {
  const atMs = Date.now() - 10_000;
  return {
    group: "g1",
    node: "a",
    seq: 42,
    atMs,
    ttlMs: 1000,
    intervalMs: 500,
    allowedMisses: 2,
    leaving: false,
    instanceId: "i1",
    skewMs: 0,
    body: HeartbeatBody.of(
      Heartbeat.create({ group: "g1", nodeId: "a", sentAtMs: atMs }),
      new Uint8Array(),
    ),
  };
}

/** Lets the engine's un-awaited look-ups settle. */
const settle = () => new Promise((r) => setTimeout(r, 20));

// The store's expiry signal for a node reaches a monitor that is behind: it is deferred and
// judged by a sweep once the monitor is current. That judgement is not awaited; its KON_HB
// look-up can time out (a loaded server), and then it must neither reject unhandled (which ends
// the process) nor be forgotten (which would lose the down): it is judged again next sweep.
describe("LivenessEngine, a deferred expiry whose KON_HB look-up fails", () => {
  it("is judged again at the next sweep and then reported down once", async () => {
    const lookups: string[] = [];
    let failNext = true;
    const history = {
      last: (subject: string) => {
        lookups.push(subject);
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("TimeoutError: timeout"));
        }
        return Promise.resolve(lastBeat());
      },
      next: () => Promise.resolve(null),
      before: () => Promise.resolve(null),
    } as unknown as HeartbeatHistory;
    const published: TrackerEvent[] = [];
    const publisher = {
      submit: (ev: TrackerEvent) => void published.push(ev),
      publish: (ev: TrackerEvent) => void published.push(ev),
      tick: () => undefined,
    } as unknown as EventPublisher;
    const recorded: string[] = [];
    const backend = {
      kind: "nats",
      claimsDowns: false,
      record: (ev: TrackerEvent) => Promise.resolve(void recorded.push(ev.id)),
      refresh: () => undefined,
    } as unknown as LivenessBackend;
    const membership = {
      self: "t",
      owner: () => "t",
      members: () => ["t"],
    } as unknown as Membership;
    const warnings: string[] = [];
    const logger: Logger = {
      info: () => undefined,
      warn: (m: string) => void warnings.push(m),
      error: (m: string) => void warnings.push(m),
    };
    const clock = new DetectionClock();
    const engine = new LivenessEngine({
      names,
      tracker: new NodeTracker({
        flapCount: 3,
        flapWindowMs: 300_000,
        massFailurePct: 50,
        massFailureMinNodes: 4,
      }),
      clock,
      validator: new HeartbeatValidator({
        names,
        maxSkewMs: 30_000,
        maxMetaBytes: 4096,
        defaultIntervalMs: 1000,
        defaultMisses: 3,
        isKnownGroup: () => true,
      }),
      history,
      backend,
      publisher,
      membership,
      limiter: new TokenBuckets(20, 40),
      forgetAfterMs: 86_400_000,
      metrics: createMonitorMetrics("t"),
      logger,
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
      // Behind: the expiry is deferred, nothing is looked up yet.
      expect(await engine.onExpiry("g1.a")).toMatchObject({ outcome: "alive" });
      expect(lookups).toEqual([]);

      clock.markCaughtUp();
      engine.sweep(); // judged now: the look-up fails
      await settle();
      expect(lookups).toEqual(["kon.hb.g1.a"]);
      expect(published).toEqual([]);
      expect(warnings.join("\n")).toMatch(/cannot judge the expiry of g1\.a: .*TimeoutError/);

      engine.sweep(); // judged again: the node's last beat is long past its TTL
      await settle();
      await engine.settle();
      expect(lookups).toEqual(["kon.hb.g1.a", "kon.hb.g1.a"]);
      expect(published.map((e) => `${e.kind} ${e.key} ${e.id}`)).toEqual([
        "down g1.a g1.a.down.42",
      ]);
      expect(recorded).toEqual(["g1.a.down.42"]);

      engine.sweep(); // nothing left deferred: no third look-up, no second down
      await settle();
      expect(lookups).toHaveLength(2);
      expect(published).toHaveLength(1);
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});
