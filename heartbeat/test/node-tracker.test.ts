import { Heartbeat } from "@konorkestra/proto";
import { HeartbeatBody } from "../src/heartbeat-wire";
import { NodeTracker } from "../src/node-tracker";
import type { TrackedHeartbeat, TrackerEvent } from "../src/node-liveness";

const TTL = 3000;
const opts = { flapCount: 2, flapWindowMs: 60_000, massFailurePct: 50, massFailureMinNodes: 4 };

/** Heartbeats of one node at server times; `seq` counts up like a stream sequence. */
function beats(node: string, group = "g1") {
  let seq = 0;
  return (atMs: number, extra: Partial<TrackedHeartbeat> = {}): TrackedHeartbeat => ({
    group,
    node,
    seq: (seq += 10),
    atMs,
    ttlMs: TTL,
    intervalMs: 1000,
    allowedMisses: 3,
    leaving: false,
    instanceId: "inst-1",
    skewMs: 0,
    body: HeartbeatBody.of(
      Heartbeat.create({ group, nodeId: node, sentAtMs: atMs }),
      new Uint8Array(),
    ),
    ...extra,
  });
}

const kinds = (events: TrackerEvent[]) => events.map((e) => `${e.kind} ${e.key}`);

/** Runs the sweep at `now` and declares every candidate down (as if KON_HB had nothing newer). */
function sweep(t: NodeTracker, now: number): TrackerEvent[] {
  const { candidates, events } = t.due(now);
  return [...events, ...candidates.flatMap((c) => t.expire(c.key, c.lastSeq, now))];
}

function accepted(t: NodeTracker, h: TrackedHeartbeat, now = h.atMs): TrackerEvent[] {
  const out = t.heartbeat(h, now, now);
  if (out.kind !== "accepted") throw new Error(`expected accepted, got ${out.kind}`);
  return out.events;
}

describe("NodeTracker", () => {
  it("reports the first heartbeat as up, keyed by process instance, and nothing for the next ones", () => {
    const t = new NodeTracker(opts);
    const a = beats("a");
    const [up] = accepted(t, a(1000));
    expect(up).toMatchObject({ kind: "up", id: "g1.a.up.iinst-1", reason: "first heartbeat" });
    expect(accepted(t, a(2000))).toEqual([]);
    expect(t.get("g1.a")).toMatchObject({ status: "up", deadlineMs: 2000 + TTL });
  });

  it("ignores a heartbeat it has already applied (redelivery)", () => {
    const t = new NodeTracker(opts);
    const h = beats("a")(1000);
    accepted(t, h);
    expect(t.heartbeat(h, 1000, 1000).kind).toBe("duplicate");
  });

  it("declares a node down once its deadline passed, not a millisecond before", () => {
    const t = new NodeTracker(opts);
    const a = beats("a");
    accepted(t, a(1000));
    const last = a(2000);
    accepted(t, last);
    expect(sweep(t, 4999)).toEqual([]);
    const [down] = sweep(t, 5000);
    expect(down).toMatchObject({
      kind: "down",
      id: `g1.a.down.${last.seq}`,
      atMs: 5000,
      seq: last.seq,
      suspect: false,
    });
    expect(sweep(t, 9000)).toEqual([]);
  });

  it("does not expire a candidate that a newer heartbeat superseded meanwhile", () => {
    const t = new NodeTracker(opts);
    const a = beats("a");
    const first = a(1000);
    accepted(t, first);
    const { candidates } = t.due(4000);
    expect(candidates).toHaveLength(1);
    accepted(t, a(3900), 4000);
    expect(t.expire("g1.a", first.seq, 4000)).toEqual([]);
    expect(t.get("g1.a")?.status).toBe("up");
  });

  it("reports up again after a down, and left (never down) after a leaving heartbeat", () => {
    const t = new NodeTracker(opts);
    const a = beats("a");
    accepted(t, a(1000));
    sweep(t, 4000);
    const back = a(6000);
    expect(accepted(t, back)).toEqual([
      expect.objectContaining({
        kind: "up",
        id: `g1.a.up.${back.seq}`,
        reason: "heartbeat after down",
      }),
    ]);
    const bye = a(7000, { leaving: true });
    expect(kinds(accepted(t, bye))).toEqual(["left g1.a"]);
    expect(sweep(t, 20_000)).toEqual([]);
    expect(kinds(accepted(t, a(21_000)))).toEqual(["up g1.a"]);
  });

  it("asks for the previous heartbeat before judging a gap, and finds the down in it", () => {
    const t = new NodeTracker(opts);
    const a = beats("a");
    const before = a(1000);
    accepted(t, before);
    const late = a(9000);
    // Processed as a backlog: the detection clock is still at the watermark.
    expect(t.heartbeat(late, 9000, 60_000).kind).toBe("needs-predecessor");
    const out = t.heartbeat(late, 9000, 60_000, {
      seq: before.seq,
      atMs: 1000,
      ttlMs: TTL,
      intervalMs: 1000,
    });
    expect(out.kind === "accepted" && kinds(out.events)).toEqual(["down g1.a", "up g1.a"]);
    expect(out.kind === "accepted" && out.events[0]!.atMs).toBe(4000);
  });

  it("sees no gap when the missing heartbeat turns up in KON_HB", () => {
    const t = new NodeTracker(opts);
    const a = beats("a");
    accepted(t, a(1000));
    const missed = a(3500);
    const late = a(6000);
    expect(t.heartbeat(late, 6000, 6000).kind).toBe("needs-predecessor");
    const out = t.heartbeat(late, 6000, 6000, {
      seq: missed.seq,
      atMs: 3500,
      ttlMs: TTL,
      intervalMs: 1000,
    });
    expect(out.kind === "accepted" && out.events).toEqual([]);
  });

  it("records an old heartbeat of an unknown node as gone, without an up", () => {
    const t = new NodeTracker(opts);
    const events = accepted(t, beats("ghost")(1000), 1000);
    expect(events).toHaveLength(1); // live: up
    const t2 = new NodeTracker(opts);
    const out = t2.heartbeat(beats("ghost")(1000), 1000, 3_600_000);
    expect(out.kind === "accepted" && out.events).toEqual([]);
    expect(t2.get("g1.ghost")?.status).toBe("down");
  });

  it("restores an expired node and reports it down once its last heartbeat is found stale", () => {
    const t = new NodeTracker(opts);
    t.seed({ group: "g1", node: "a", status: "expired" });
    expect(t.unverifiedKeys()).toEqual(["g1.a"]);
    expect(sweep(t, 100_000)).toEqual([]); // nothing to judge until the last heartbeat is known
    t.resolveUnverified("g1.a", { seq: 77, atMs: 50_000, ttlMs: TTL, intervalMs: 1000 });
    expect(sweep(t, 100_000)).toEqual([
      expect.objectContaining({ kind: "down", id: "g1.a.down.77" }),
    ]);
  });

  it("restores an expired node that is still beating without any event", () => {
    const t = new NodeTracker(opts);
    t.seed({ group: "g1", node: "a", status: "expired" });
    const h = beats("a")(10_000);
    expect(t.heartbeat(h, 10_000, 10_000).kind).toBe("needs-predecessor");
    const out = t.heartbeat(h, 10_000, 10_000, {
      seq: 1,
      atMs: 9000,
      ttlMs: TTL,
      intervalMs: 1000,
    });
    expect(out.kind === "accepted" && out.events).toEqual([]);
    expect(t.get("g1.a")?.status).toBe("up");
  });

  it("turns the down after flapCount downs within the window into one flapping event", () => {
    const t = new NodeTracker(opts);
    const a = beats("a");
    const seen: TrackerEvent[] = [...accepted(t, a(0))];
    let now = 0;
    for (let cycle = 0; cycle < 5; cycle++) {
      now += 5000;
      seen.push(...sweep(t, now)); // down
      now += 1000;
      seen.push(...accepted(t, a(now))); // back
    }
    expect(kinds(seen)).toEqual([
      "up g1.a",
      "down g1.a",
      "up g1.a",
      "down g1.a",
      "up g1.a",
      "flapping g1.a",
    ]);
    expect(t.get("g1.a")?.status).toBe("flapping");
    // A full window with no down after the last one (its deadline, 27 s): the first heartbeat
    // at or after 27 s + 60 s ends it with one up.
    const later: TrackerEvent[] = [];
    for (let at = now + 1000; at <= now + 61_000; at += 1000) later.push(...accepted(t, a(at)));
    expect(later).toEqual([
      expect.objectContaining({ kind: "up", atMs: 87_000, reason: "stable again after flapping" }),
    ]);
  });

  it("ends flapping with a down when the node stays away for the window", () => {
    const t = new NodeTracker({ ...opts, flapCount: 1 });
    const a = beats("a");
    accepted(t, a(0));
    sweep(t, 3000);
    accepted(t, a(4000));
    expect(kinds(sweep(t, 7000))).toEqual(["flapping g1.a"]);
    expect(sweep(t, 7000 + 59_999)).toEqual([]);
    expect(sweep(t, 7000 + 60_000)).toEqual([
      expect.objectContaining({ kind: "down", reason: "flapping ended; node is down" }),
    ]);
  });

  it("marks downs suspect when most of a group is lost within one TTL, and a lone down not", () => {
    const t = new NodeTracker(opts);
    const nodes = ["a", "b", "c", "d", "e"].map((n) => beats(n, "big"));
    nodes.forEach((b, i) => accepted(t, b(1000 + i * 100)));
    const calm = ["x", "y", "z", "w"].map((n) => beats(n, "calm"));
    calm.forEach((b) => accepted(t, b(1000)));
    // calm keeps beating except x; big goes silent entirely after its first beats.
    for (let at = 2000; at <= 6000; at += 1000) calm.slice(1).forEach((b) => accepted(t, b(at)));
    const downs = sweep(t, 4500);
    expect(downs.filter((e) => e.key.startsWith("big.")).every((e) => e.suspect)).toBe(true);
    expect(downs.find((e) => e.key === "calm.x")).toMatchObject({ kind: "down", suspect: false });
  });

  it("does not mark downs suspect in a group smaller than the minimum", () => {
    const t = new NodeTracker(opts);
    const pair = ["a", "b"].map((n) => beats(n, "tiny"));
    pair.forEach((b) => accepted(t, b(1000)));
    expect(sweep(t, 4000).map((e) => e.suspect)).toEqual([false, false]);
  });

  it("postpones a candidate and offers it again later", () => {
    const t = new NodeTracker(opts);
    const h = beats("a")(1000);
    accepted(t, h);
    const [c] = t.due(4000).candidates;
    t.postpone(c!.key, c!.lastSeq, 4100);
    expect(t.due(4050).candidates).toEqual([]);
    expect(t.due(4100).candidates).toHaveLength(1);
  });

  it("lists nodes by group, sorted, and counts them by status", () => {
    const t = new NodeTracker(opts);
    for (const n of ["b", "a"]) accepted(t, beats(n)(1000));
    accepted(t, beats("q", "g2")(1000));
    expect(t.list("g1").map((n) => n.key)).toEqual(["g1.a", "g1.b"]);
    expect(t.list().map((n) => n.key)).toEqual(["g1.a", "g1.b", "g2.q"]);
    sweep(t, 4000);
    expect(t.countByStatus()).toEqual({ up: 0, down: 3, left: 0, flapping: 0 });
  });
});
