import { Heartbeat } from "@konorkestra/proto";
import { BlindWindows } from "../src/blind-windows";
import { HeartbeatBody } from "../src/heartbeat-wire";
import { NodeTracker } from "../src/node-tracker";
import type { TrackedHeartbeat, TrackerEvent } from "../src/node-liveness";
import { TokenBuckets } from "../src/token-buckets";

const TTL = 3000;
const opts = { flapCount: 3, flapWindowMs: 60_000, massFailurePct: 50, massFailureMinNodes: 4 };

let seq = 0;
const beat = (node: string, atMs: number): TrackedHeartbeat => ({
  group: "g1",
  node,
  seq: (seq += 1),
  atMs,
  ttlMs: TTL,
  intervalMs: 1000,
  allowedMisses: 3,
  leaving: false,
  instanceId: `i-${node}`,
  skewMs: 0,
  body: HeartbeatBody.of(Heartbeat.create({ group: "g1", nodeId: node }), new Uint8Array()),
});

function sweep(t: NodeTracker, now: number): TrackerEvent[] {
  const { candidates, events } = t.due(now);
  return [...events, ...candidates.flatMap((c) => t.expire(c.key, c.lastSeq, now))];
}

// Issue 11, item 9: nothing per node may grow without bound.
describe("caps", () => {
  it("forgets token buckets that have refilled, and refuses or lets through past the cap", () => {
    let full = 0;
    const refuse = new TokenBuckets(1, 2, 2, "refuse", () => full++);
    expect(refuse.allow("a", 0)).toBe(true);
    expect(refuse.allow("b", 0)).toBe(true);
    expect(refuse.allow("c", 500)).toBe(false); // a and b still refilling: no room
    expect(full).toBe(1);
    expect(refuse.allow("c", 2000)).toBe(true); // a and b refilled: forgotten, room again
    expect(refuse.size).toBe(1);
    const through = new TokenBuckets(1, 2, 1, "allow");
    expect(through.allow("a", 0)).toBe(true);
    expect(through.allow("b", 0)).toBe(true); // untracked, not refused
    expect(through.size).toBe(1);
  });

  it("forgets stopped nodes silent for long, and evicts the oldest stopped one when full", () => {
    const forgotten: string[] = [];
    const t = new NodeTracker({ ...opts, maxNodes: 2 });
    t.onForget = (k) => forgotten.push(k);
    t.heartbeat(beat("a", 1000), 1000, 1000);
    t.heartbeat(beat("b", 2000), 2000, 2000);
    expect(sweep(t, 10_000).map((e) => `${e.kind} ${e.node}`)).toEqual(["down a", "down b"]);
    // Full: a new node evicts the stopped node heard longest ago.
    expect(t.heartbeat(beat("c", 11_000), 11_000, 11_000).kind).toBe("accepted");
    expect(forgotten).toEqual(["g1.a"]);
    expect(t.get("g1.a")).toBeUndefined();
    // Full of b (stopped) and c (beating): d takes b's place; then e finds every node beating.
    expect(t.heartbeat(beat("d", 11_500), 11_500, 11_500).kind).toBe("accepted");
    expect(t.heartbeat(beat("e", 11_600), 11_600, 11_600).kind).toBe("capped");
    expect(t.size).toBe(2);
    // Silent stopped nodes go after the forget time; beating ones stay.
    sweep(t, 20_000);
    expect(t.forgetSilent(19_000).sort()).toEqual(["g1.c", "g1.d"]);
    expect(t.size).toBe(0);
  });
});

// Issue 11, item 5: a blind period is not an outage.
describe("blind periods", () => {
  it("re-arm a deadline that fell while blind to end + grace + TTL", () => {
    const w = new BlindWindows(2000);
    expect(w.deadline(1000, TTL)).toBe(4000);
    w.begin(3000);
    expect(w.deadline(1000, TTL)).toBe(Infinity);
    expect(w.deadline(-5000, TTL)).toBe(-2000); // passed before the monitor went blind
    w.end(9000);
    expect(w.deadline(1000, TTL)).toBe(14_000);
    expect(w.deadline(9500, TTL)).toBe(12_500); // heard after it heard again: untouched
  });

  it("turn neither a passed deadline nor a gap across the window into a down", () => {
    const t = new NodeTracker(opts);
    t.heartbeat(beat("a", 1000), 1000, 1000);
    t.heartbeat(beat("b", 1000), 1000, 1000);
    t.blind.begin(2000);
    expect(sweep(t, 8000)).toEqual([]);
    t.blind.end(8000);
    expect(sweep(t, 12_000)).toEqual([]); // until 8000 + 2000 + 3000
    // a comes back after the window: a gap of 11 s, but no down.
    const out = t.heartbeat(beat("a", 12_500), 12_500, 12_500);
    expect(out.kind === "accepted" && out.events).toEqual([]);
    const downs = sweep(t, 13_000);
    expect(downs.map((e) => `${e.kind} ${e.node}`)).toEqual(["down b"]);
    expect(downs[0]!.reason).toMatch(/could not hear from 2000 to 8000/);
    expect(downs[0]!.lastBeatAtMs).toBe(1000);
  });
});
