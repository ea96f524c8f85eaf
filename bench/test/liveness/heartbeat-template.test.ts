import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import { buildHeartbeat } from "@konorkestra/sdk/internal";
import type { HeartbeatIdentity } from "@konorkestra/sdk/internal";
import { HeartbeatTemplate } from "../../src/liveness/heartbeat-template";

const identity = (nodeId: string, meta: Record<string, string> = { zone: "bench" }) =>
  ({
    group: "bench",
    nodeId,
    intervalMs: 1000,
    allowedMisses: 3,
    serviceName: "bench-sim",
    serviceVersion: "1.0.0",
    instanceId: "0b6f7f4e-3c1d-4c51-9a55-2f8b7c0f1e2d",
    meta,
  }) satisfies HeartbeatIdentity;

const applied = {
  service1: { revision: 42, sha256: "5e".repeat(32), appliedAtMs: 1_764_000_000_123 },
};

/** What the SDK's heartbeat client sends for this beat (its uptime replaced by `uptimeMs`). */
function sdkBytes(id: HeartbeatIdentity, seq: number, sentAtMs: number, uptimeMs: number) {
  const msg = buildHeartbeat(id, { seq, sentAtMs, leaving: false, applied });
  return Buffer.from(encodeMessage(Heartbeat, { ...msg, uptimeMs }));
}

describe("HeartbeatTemplate", () => {
  // Every varint length of seq, sent_at_ms and uptime_ms, and the zeros proto3 leaves out.
  const values = [0, 1, 127, 128, 16_383, 16_384, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 5, 2 ** 53 - 1];

  it("is byte for byte what the SDK builds, for every varint length", () => {
    for (const id of [identity("n00042"), identity("a-much-longer-node-id.x", {}), identity("n")]) {
      const t = new HeartbeatTemplate(id, applied);
      for (const seq of values) {
        for (const sentAt of [0, 1_764_000_000_000, ...values]) {
          for (const uptime of [0, 5, 3_600_000, 2 ** 40]) {
            const ours = Buffer.from(t.encode(seq, sentAt, uptime));
            expect(ours.equals(sdkBytes(id, seq, sentAt, uptime))).toBe(true);
          }
        }
      }
    }
  });

  it("writes into a shared buffer at an offset without touching its neighbours", () => {
    const id = identity("n7");
    const t = new HeartbeatTemplate(id, applied);
    const buf = Buffer.alloc(3 * t.maxBytes, 0xee);
    const len = t.write(buf, t.maxBytes, 300, 1_764_000_000_777, 12_345);
    const want = sdkBytes(id, 300, 1_764_000_000_777, 12_345);
    expect(len).toBe(want.length);
    expect(buf.subarray(t.maxBytes, t.maxBytes + len).equals(want)).toBe(true);
    expect(buf.subarray(0, t.maxBytes).every((b) => b === 0xee)).toBe(true);
    expect(buf.subarray(t.maxBytes + len).every((b) => b === 0xee)).toBe(true);
  });

  it("refuses what protobuf varints of a beat cannot be", () => {
    const t = new HeartbeatTemplate(identity("n1"), applied);
    expect(() => t.encode(-1, 1, 1)).toThrow(RangeError);
    expect(() => t.encode(1.5, 1, 1)).toThrow(RangeError);
  });
});

test("byteLength is the length write gives", () => {
  const t = new HeartbeatTemplate(identity("n9"), applied);
  const buf = new Uint8Array(t.maxBytes);
  for (const v of [0, 1, 127, 128, 2 ** 35, 2 ** 53 - 1]) {
    expect(t.byteLength(v, 1_764_000_000_000, v)).toBe(t.write(buf, 0, v, 1_764_000_000_000, v));
  }
});
