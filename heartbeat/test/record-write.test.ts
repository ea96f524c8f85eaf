import { headers } from "@nats-io/transport-node";
import type { MsgHdrs } from "@nats-io/transport-node";
import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { HeartbeatInit } from "@konorkestra/proto";
import { configKeysFingerprint } from "../src/backends/config-keys";
import { recordRefreshPeriodMs, recordTtlMs } from "../src/backends/nats-backend";
import { EncodedHeaders, recordHeaderPairs } from "../src/backends/record-headers";

const rev = (revision: number) => ({ revision, sha256: "c".repeat(64), appliedAtMs: revision });
const beat = (over: Partial<HeartbeatInit>) =>
  encodeMessage(Heartbeat, {
    group: "g1",
    nodeId: "n1",
    seq: 123456,
    sentAtMs: 1_733_300_000_000,
    uptimeMs: 99,
    intervalMs: 1000,
    allowedMisses: 3,
    process: { pid: 7, hostname: "h", instanceId: "i-1" },
    meta: { zone: "a" },
    ...over,
  });

describe("configKeysFingerprint", () => {
  it("changes with the set of config keys, not with their revisions or order", () => {
    const a = configKeysFingerprint(beat({ config: { svc: rev(1), "svc.db": rev(2) } }));
    expect(a).toBeDefined();
    expect(configKeysFingerprint(beat({ config: { "svc.db": rev(9), svc: rev(8) } }))).toBe(a);
    expect(configKeysFingerprint(beat({ seq: 9, config: { svc: rev(1), "svc.db": rev(2) } }))).toBe(
      a,
    );
    expect(configKeysFingerprint(beat({ config: { svc: rev(1) } }))).not.toBe(a);
    expect(
      configKeysFingerprint(beat({ config: { svc: rev(1), "svc.db": rev(2), x: rev(3) } })),
    ).not.toBe(a);
    expect(configKeysFingerprint(beat({ config: { svc: rev(1), "svc.dc": rev(2) } }))).not.toBe(a);
    expect(configKeysFingerprint(beat({}))).toBe(0);
  });

  it("has no opinion on bytes that are not a heartbeat", () => {
    const b = beat({ config: { svc: rev(1) } });
    expect(configKeysFingerprint(b.subarray(0, b.length - 3))).toBeUndefined();
    expect(configKeysFingerprint(new Uint8Array([0x52, 0x7f, 0x01]))).toBeUndefined();
  });
});

describe("record headers", () => {
  const fields = {
    status: "up" as const,
    lastSeq: 42,
    lastAtMs: 1_733_300_000_123,
    ttlMs: 3000,
    intervalMs: 1000,
    allowedMisses: 3,
    downTimes: [5, 6],
  };

  it("encode to the bytes nats.js' own headers would send", () => {
    const pairs = recordHeaderPairs(fields, "mon-a", [["Nats-TTL", "14s"]]);
    const h = headers();
    for (const [k, v] of pairs) h.set(k, v);
    const ours = new EncodedHeaders(pairs);
    expect(Buffer.from(ours.encode()).toString()).toBe(
      Buffer.from((h as unknown as { encode(): Uint8Array }).encode()).toString(),
    );
    expect(ours.get("Kon-Down-Times")).toBe("5,6");
    expect(ours.get("Nats-TTL")).toBe("14s");
    expect([...ours].length).toBe(pairs.length);
  });

  it("refuse to change once encoded, as nats.js would ask when it adds a header", () => {
    const pairs = recordHeaderPairs(fields, "mon-a", [["Nats-TTL", "14s"]]);
    const ours = new EncodedHeaders(pairs);
    const before = Buffer.from(ours.encode()).toString();
    const asNatsSeesIt: MsgHdrs = ours;
    expect(() => asNatsSeesIt.set("Nats-TTL", "20s")).toThrow(/cannot set Nats-TTL.*msgHdrsOf/);
    expect(() => asNatsSeesIt.append("Nats-Msg-Id", "x")).toThrow(/cannot append Nats-Msg-Id/);
    expect(() => asNatsSeesIt.delete("Kon-Status")).toThrow(/cannot delete Kon-Status/);
    expect(Buffer.from(ours.encode()).toString()).toBe(before);
  });

  it("record Nats-TTL: refresh period (at least the TTL) + TTL + 1 s", () => {
    expect(recordRefreshPeriodMs(3000, 0)).toBe(3000);
    expect(recordTtlMs(3000, 0)).toBe(7000); // the former rule: 2 × TTL + 1 s
    expect(recordTtlMs(3000, 10_000)).toBe(14_000);
    expect(recordRefreshPeriodMs(60_000, 10_000)).toBe(60_000);
    expect(recordTtlMs(60_000, 10_000)).toBe(121_000);
  });
});
