import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { HeartbeatInit } from "@konorkestra/proto";
import { wireNames } from "@konorkestra/sdk/internal";
import { HeartbeatValidator } from "../src/heartbeat-validator";
import { readWireHeartbeat } from "../src/heartbeat-wire";
import type { TrackedHeartbeat } from "../src/node-liveness";
import type { NodeSlot } from "../src/node-slot";
import { NodeTracker } from "../src/node-tracker";
import { TokenBuckets } from "../src/token-buckets";

// The per-beat shortcuts of the decision path (issue 14): a subject's names checked once, and
// the node's tracker state and limiter bucket reached through a slot instead of a look-up each.
// The shortcuts must decide exactly what the look-ups decide, and stay within the caps.

const AT = 1_700_000_000_000;
let known = new Set(["g1"]);
const validator = (maxNodes?: number) =>
  new HeartbeatValidator({
    names: wireNames("kon"),
    maxSkewMs: 30_000,
    maxMetaBytes: 64,
    defaultIntervalMs: 1000,
    defaultMisses: 3,
    isKnownGroup: (g) => known.has(g),
    maxNodes,
  });
let seq = 0;
const msg = (subject: string, hb: HeartbeatInit = { seq: 1 }, atMs = AT) => ({
  // A fresh string each time, as the feed decodes one per delivery.
  subject: Buffer.from(subject).toString(),
  data: encodeMessage(Heartbeat, hb),
  seq: ++seq,
  atMs,
});
function accept(v: HeartbeatValidator, subject: string, hb?: HeartbeatInit, atMs?: number) {
  const r = v.validate(msg(subject, hb, atMs));
  if (!r.ok) throw new Error(`refused: ${r.reason} ${r.detail}`);
  return r.hb;
}

describe("validator: subjects remembered", () => {
  beforeEach(() => {
    known = new Set(["g1"]);
  });

  it("gives every beat of a node its key and one slot, another node another", () => {
    const v = validator();
    const a1 = accept(v, "kon.hb.g1.a");
    const a2 = accept(v, "kon.hb.g1.a");
    const b = accept(v, "kon.hb.g1.b");
    expect(a1.key).toBe("g1.a");
    expect(b.key).toBe("g1.b");
    expect(a1.slot).toBeDefined();
    expect(a2.slot).toBe(a1.slot);
    expect(b.slot).not.toBe(a1.slot);
  });

  it("remembers at most maxNodes subjects, the oldest going first", () => {
    const v = validator(2);
    const a = accept(v, "kon.hb.g1.a").slot;
    const b = accept(v, "kon.hb.g1.b").slot;
    accept(v, "kon.hb.g1.c");
    expect(accept(v, "kon.hb.g1.b").slot).toBe(b);
    expect(accept(v, "kon.hb.g1.a").slot).not.toBe(a); // a went to make room for c
  });

  it("still asks every beat whether the group is known, and judges every payload", () => {
    const v = validator();
    accept(v, "kon.hb.g1.a");
    known.delete("g1");
    expect(v.validate(msg("kon.hb.g1.a"))).toMatchObject({
      ok: false,
      reason: "unknown_group",
      key: "g1.a",
    });
    known.add("g1");
    expect(v.validate(msg("kon.hb.g1.a", { nodeId: "b" }))).toMatchObject({
      ok: false,
      reason: "bad_node",
    });
    const bad = { ...msg("kon.hb.g1.a"), data: new Uint8Array([0x0a, 0xff]) };
    expect(v.validate(bad)).toMatchObject({ ok: false, reason: "malformed" });
    expect(v.validate({ ...bad, data: new Uint8Array() })).toMatchObject({ reason: "empty" });
    // A bad subject is never remembered: each is refused on its own.
    for (let i = 0; i < 2; i++) {
      expect(v.validate(msg("kon.hb.g1.n%1"))).toMatchObject({ ok: false, reason: "bad_node" });
      expect(v.validate(msg("kon.hb.G1.n1"))).toMatchObject({ ok: false, reason: "bad_subject" });
    }
  });

  it("reads a changed instance id, and the same one as the same value", () => {
    const v = validator();
    const proc = (instanceId: string) => ({ seq: 1, process: { instanceId } });
    expect(accept(v, "kon.hb.g1.a", proc("i-1")).instanceId).toBe("i-1");
    expect(accept(v, "kon.hb.g1.a", proc("i-1")).instanceId).toBe("i-1");
    expect(accept(v, "kon.hb.g1.a", proc("i-2")).instanceId).toBe("i-2");
    expect(accept(v, "kon.hb.g1.a", proc("ü-2")).instanceId).toBe("ü-2");
    expect(accept(v, "kon.hb.g1.a", { seq: 1 }).instanceId).toBe("");
    const bytes = encodeMessage(Heartbeat, proc("i-3"));
    expect(readWireHeartbeat(bytes, undefined, "i-4").instanceId).toBe("i-3");
  });
});

describe("token buckets through a slot", () => {
  it("uses the slot's bucket while it is the table's, a new one once forgotten or pruned", () => {
    const tb = new TokenBuckets(1, 2, 10, "refuse");
    const slot: NodeSlot = {};
    expect(tb.allow("g1.a", 0, slot)).toBe(true);
    expect(slot.buckets).toBe(tb);
    expect(tb.allow("g1.a", 0, slot)).toBe(true);
    expect(tb.allow("g1.a", 0, slot)).toBe(false); // burst used: the slot's bucket is the key's
    expect(tb.allow("g1.a", 0)).toBe(false);
    tb.forget("g1.a");
    expect(tb.size).toBe(0);
    expect(tb.allow("g1.a", 0, slot)).toBe(true); // a fresh bucket, in the table
    expect(tb.size).toBe(1);
    expect(tb.allow("g1.a", 0)).toBe(true);
    expect(tb.allow("g1.a", 0, slot)).toBe(false);
    // Pruned after its refill time: the next allow makes a bucket the table counts.
    expect(tb.allow("g1.b", 5000)).toBe(true);
    expect(tb.size).toBe(1);
    expect(tb.allow("g1.a", 5000, slot)).toBe(true);
    expect(tb.size).toBe(2);
    // Another table never takes this table's bucket from the slot.
    const other = new TokenBuckets(1, 1, 10, "refuse");
    expect(other.allow("g1.a", 5000, slot)).toBe(true);
    expect(other.allow("g1.a", 5000, slot)).toBe(false);
    expect(tb.allow("g1.a", 5000, slot)).toBe(true);
  });
});

describe("tracker through a slot", () => {
  const opts = { flapCount: 3, flapWindowMs: 60_000, massFailurePct: 50, massFailureMinNodes: 4 };
  const v = validator();
  const beat = (node: string, atMs: number): TrackedHeartbeat =>
    accept(v, `kon.hb.g1.${node}`, { seq: 1, intervalMs: 1000, allowedMisses: 3 }, atMs);

  it("fills the slot, and treats a node evicted meanwhile as new (within maxNodes)", () => {
    known = new Set(["g1"]);
    const t = new NodeTracker({ ...opts, maxNodes: 2 });
    const a = beat("a", 1000);
    expect(t.heartbeat(a, 1000, 1000)).toMatchObject({ kind: "accepted" });
    expect(a.slot!.tracker).toBe(t);
    expect(a.slot!.tracked).toBe(t.get("g1.a"));
    expect(t.heartbeat(beat("a", 2000), 2000, 2000)).toMatchObject({ kind: "accepted" });
    expect(t.heartbeat(beat("a", 2000), 2000, 2000)).toMatchObject({ kind: "accepted" });
    expect(t.get("g1.a")!.lastAtMs).toBe(2000);
    // a stops and goes down; b beats; c evicts a (the stopped node heard longest ago).
    t.heartbeat(beat("b", 9000), 9000, 9000);
    for (const c of t.due(9000).candidates) t.expire(c.key, c.lastSeq, 9000);
    expect(t.get("g1.a")!.status).toBe("down");
    const aState = t.get("g1.a");
    expect(a.slot!.tracked).toBe(aState);
    expect(t.heartbeat(beat("c", 9100), 9100, 9100)).toMatchObject({ kind: "accepted" });
    expect(t.get("g1.a")).toBeUndefined();
    // The slot lets go of the evicted state (it would keep the node's last body alive).
    expect(a.slot!.tracked).toBeUndefined();
    expect(t.size).toBe(2);
    // Had a's slot still held its old state, the tracker must not use it.
    a.slot!.tracked = aState;
    const back = t.heartbeat(beat("a", 9200), 9200, 9200);
    expect(back).toMatchObject({ kind: "capped" }); // b and c beat: no room, as without a slot
    for (const c of t.due(20_000).candidates) t.expire(c.key, c.lastSeq, 20_000);
    const again = t.heartbeat(beat("a", 20_100), 20_100, 20_100);
    expect(again.kind === "accepted" && again.events.map((e) => e.reason)).toEqual([
      "first heartbeat",
    ]);
    expect(t.size).toBe(2);
    expect(t.get("g1.a")).toBe(beat("a", 20_200).slot!.tracked);
  });
});
