import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { Heartbeat, decodeMessage, encodeMessage } from "@konorkestra/proto";
import { buildHeartbeat, sdkVersion } from "../src/internal";
import { configRevisions, nextBeatSlot } from "../src/heartbeat/heartbeat-message";
import type { HeartbeatIdentity } from "../src/internal";

const identity: HeartbeatIdentity = {
  group: "g1",
  nodeId: "n1",
  intervalMs: 500,
  allowedMisses: 4,
  serviceName: "billing",
  serviceVersion: "2.3.1",
  instanceId: "inst-1",
  meta: { region: "eu-west-1" },
};

describe("heartbeat message", () => {
  it("carries everything the monitor needs and survives the wire", () => {
    const msg = buildHeartbeat(identity, {
      seq: 7,
      sentAtMs: 1_700_000_000_123,
      leaving: false,
      applied: {
        "service1.db": { revision: 42, sha256: "ab".repeat(32), appliedAtMs: 1_700_000_000_000 },
        flags: {
          revision: 40,
          sha256: "cd".repeat(32),
          appliedAtMs: 1_699_999_999_000,
          rejectedRevision: 41,
          pendingRevision: 43,
        },
      },
    });
    const back = decodeMessage(Heartbeat, encodeMessage(Heartbeat, msg));
    expect(back).toMatchObject({
      group: "g1",
      nodeId: "n1",
      seq: 7,
      sentAtMs: 1_700_000_000_123,
      intervalMs: 500,
      allowedMisses: 4,
      leaving: false,
      meta: { region: "eu-west-1" },
      process: {
        pid: process.pid,
        hostname: hostname(),
        nodeVersion: process.version,
        serviceName: "billing",
        serviceVersion: "2.3.1",
        instanceId: "inst-1",
        sdkVersion: sdkVersion(),
      },
    });
    expect(back.uptimeMs).toBeGreaterThan(0);
    expect(back.config["service1.db"]).toMatchObject({
      revision: 42,
      sha256: "ab".repeat(32),
      appliedAtMs: 1_700_000_000_000,
      rejectedRevision: 0,
      pendingRevision: 0,
    });
    expect(back.config.flags).toMatchObject({
      revision: 40,
      rejectedRevision: 41,
      pendingRevision: 43,
    });
  });

  it("reports the SDK version from its package.json", () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, "..", "package.json"), "utf8")) as {
      version: string;
    };
    expect(sdkVersion()).toBe(pkg.version);
  });

  it("keeps bad registry numbers off the wire instead of failing the beat", () => {
    const out = configRevisions({
      k: { revision: -1, sha256: "x", appliedAtMs: Number.NaN, rejectedRevision: 2.5 },
    });
    expect(out.k).toEqual({
      revision: 0,
      sha256: "x",
      appliedAtMs: 0,
      rejectedRevision: 0,
      pendingRevision: 0,
    });
    const hb = buildHeartbeat(identity, {
      seq: 1,
      sentAtMs: 1,
      leaving: true,
      applied: { k: { revision: -1, sha256: "x", appliedAtMs: Number.NaN } },
    });
    expect(() => encodeMessage(Heartbeat, hb)).not.toThrow();
  });

  it("schedules beats on a fixed grid, skipping slots that are past", () => {
    // On time: the next slot.
    expect(nextBeatSlot(1000, 1000, 100, 0)).toBe(1);
    expect(nextBeatSlot(1000, 1100, 100, 1)).toBe(2);
    // A timer that fired a hair early must not give the same slot twice.
    expect(nextBeatSlot(1000, 1199.7, 100, 2)).toBe(3);
    // Late by two and a half intervals: one beat now, then straight to the next future slot.
    expect(nextBeatSlot(1000, 1450, 100, 2)).toBe(5);
    // No drift: slot k is always anchor + k × interval, whatever the lateness of earlier ones.
    let slot = 0;
    const fired: number[] = [];
    for (const lateness of [3, 7, 1, 9, 4]) {
      const now = 1000 + slot * 100 + lateness;
      slot = nextBeatSlot(1000, now, 100, slot);
      fired.push(1000 + slot * 100);
    }
    expect(fired).toEqual([1100, 1200, 1300, 1400, 1500]);
  });
});
