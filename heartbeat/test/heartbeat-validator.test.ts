import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { HeartbeatInit } from "@konorkestra/proto";
import { livenessTtlMs, wireNames } from "@konorkestra/sdk/internal";
import { HeartbeatValidator } from "../src/heartbeat-validator";

const validator = new HeartbeatValidator({
  names: wireNames("kon"),
  maxSkewMs: 30_000,
  maxMetaBytes: 64,
  defaultIntervalMs: 1000,
  defaultMisses: 3,
  isKnownGroup: (g) => g !== "stranger",
});
const AT = 1_700_000_000_000;
const msg = (subject: string, hb: HeartbeatInit | Uint8Array) => ({
  subject,
  data: hb instanceof Uint8Array ? hb : encodeMessage(Heartbeat, hb),
  seq: 42,
  atMs: AT,
});

describe("HeartbeatValidator", () => {
  it("accepts a heartbeat, taking the TTL from its interval and misses, in whole seconds", () => {
    const r = validator.validate(
      msg("kon.hb.g1.n1", {
        group: "g1",
        nodeId: "n1",
        intervalMs: 250,
        allowedMisses: 3,
        sentAtMs: AT + 5,
      }),
    );
    expect(r).toMatchObject({
      ok: true,
      flags: [],
      hb: { group: "g1", node: "n1", seq: 42, atMs: AT, ttlMs: 1000, skewMs: 5 },
    });
  });

  it("falls back to the defaults for a heartbeat without timing", () => {
    const r = validator.validate(msg("kon.hb.g1.n1", { seq: 1 }));
    expect(r.ok && r.hb).toMatchObject({ intervalMs: 1000, allowedMisses: 3, ttlMs: 3000 });
  });

  it("refuses a 0-byte heartbeat: no proof of life (issue 11, item 7)", () => {
    expect(validator.validate(msg("kon.hb.g1.n1", new Uint8Array()))).toMatchObject({
      ok: false,
      reason: "empty",
      detail: "empty heartbeat (0 bytes)",
    });
    // An all-default message encodes to 0 bytes too: the same refusal.
    expect(validator.validate(msg("kon.hb.g1.n1", {}))).toMatchObject({
      ok: false,
      reason: "empty",
    });
  });

  it.each([
    ["kon.hb.g1", "bad_subject"],
    ["kon.hb.g1.n1.x", "bad_subject"],
    ["other.hb.g1.n1", "bad_subject"],
    ["kon.hb.G1.n1", "bad_subject"],
    ["kon.hb.g1.n%1", "bad_node"],
    ["kon.hb.stranger.n1", "unknown_group"],
  ])("refuses %s as %s", (subject, reason) => {
    expect(validator.validate(msg(subject, { seq: 1 }))).toMatchObject({
      ok: false,
      reason,
    });
  });

  it("refuses malformed bytes and a payload naming another node", () => {
    expect(validator.validate(msg("kon.hb.g1.n1", new Uint8Array([0x0a, 0xff])))).toMatchObject({
      ok: false,
      reason: "malformed",
    });
    expect(validator.validate(msg("kon.hb.g1.n1", { nodeId: "n2" }))).toMatchObject({
      ok: false,
      reason: "bad_node",
      detail: "payload names .n2, subject names g1.n1",
    });
  });

  it("keeps but flags skew, oversized meta (stripped) and absurd timing (clamped)", () => {
    const r = validator.validate(
      msg("kon.hb.g1.n1", {
        sentAtMs: AT - 3_600_000,
        meta: { k: "v".repeat(100) },
        intervalMs: 10,
        allowedMisses: 1000,
      }),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect([...r.flags].sort()).toEqual(["clock_skew", "oversized_meta", "timing_clamped"]);
    expect(r.hb.body.message.meta).toEqual({});
    expect(Heartbeat.decode(r.hb.body.bytes).meta).toEqual({});
    expect(r.hb).toMatchObject({
      intervalMs: 100,
      allowedMisses: 100,
      ttlMs: 10_000,
      skewMs: -3_600_000,
    });
  });

  it("rounds the TTL up to whole seconds, at least one", () => {
    expect(livenessTtlMs(100, 3)).toBe(1000);
    expect(livenessTtlMs(1500, 3)).toBe(5000);
    expect(livenessTtlMs(1000, 3)).toBe(3000);
  });
});
