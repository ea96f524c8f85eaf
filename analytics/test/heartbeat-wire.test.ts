import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { HeartbeatInit } from "@konorkestra/proto";
import { wireNames } from "@konorkestra/sdk/internal";
import { HEARTBEAT_COLUMNS, HeartbeatTuples } from "../src/ingest/heartbeat/heartbeat-tuples";
import { WireError, emptyWireBeat, readHeartbeat } from "../src/ingest/heartbeat/heartbeat-wire";
import { pgTextCheck } from "../src/pg/pg-text";

const names = wireNames("kon");

const PG_EPOCH_MS = 946_684_800_000;

/** Reads one binary COPY tuple back into values: the check that the bytes say what they should. */
function parseTuple(buf: Buffer, start: number, end: number): Record<string, unknown> {
  let p = start;
  const fields = buf.readInt16BE(p);
  p += 2;
  expect(fields).toBe(HEARTBEAT_COLUMNS.length);
  const raw: Buffer[] = [];
  for (let i = 0; i < fields; i++) {
    const n = buf.readInt32BE(p);
    p += 4;
    raw.push(buf.subarray(p, p + n));
    p += n;
  }
  expect(p).toBe(end);
  const int8 = (b: Buffer): number => Number(b.readBigInt64BE(0));
  const ts = (b: Buffer): number => int8(b) / 1000 + PG_EPOCH_MS;
  const v = Object.fromEntries(HEARTBEAT_COLUMNS.map((c, i) => [c, raw[i]!]));
  return {
    time: ts(v.time!),
    group_name: v.group_name!.toString("utf8"),
    node_id: v.node_id!.toString("utf8"),
    seq: int8(v.seq!),
    sent_at: ts(v.sent_at!),
    latency_ms: v.latency_ms!.readFloatBE(0),
    late: v.late![0] === 1,
    interval_ms: v.interval_ms!.readInt32BE(0),
    uptime_ms: int8(v.uptime_ms!),
    leaving: v.leaving![0] === 1,
    instance_id: v.instance_id!.toString("utf8"),
    config_set: int8(v.config_set!),
    stream_seq: int8(v.stream_seq!),
  };
}

const full: HeartbeatInit = {
  group: "payments",
  nodeId: "pay-7",
  seq: 123456789,
  sentAtMs: 1_763_700_000_000,
  uptimeMs: 98_765_432,
  intervalMs: 1000,
  allowedMisses: 3,
  leaving: true,
  process: {
    pid: 4242,
    hostname: "host-1.internal",
    sdkVersion: "0.1.0",
    nodeVersion: "v20",
    serviceName: "payments",
    serviceVersion: "2.0.0",
    instanceId: "4f2a-instance",
  },
  config: {
    payments: { revision: 12, sha256: "ab".repeat(32), appliedAtMs: 1_763_699_000_000 },
    "payments.db": { revision: 3, sha256: "cd".repeat(32), appliedAtMs: 5, pendingRevision: 4 },
  },
  meta: { zone: "eu-1", version: "2.0.0" },
};

const rec = (
  data: Uint8Array,
  o: { subject?: string; timeMs?: number; streamSeq?: number } = {},
) => ({
  subject: o.subject ?? "kon.hb.payments.pay-7",
  data,
  timeMs: o.timeMs ?? 1_763_700_000_250,
  streamSeq: o.streamSeq ?? 77,
});

describe("readHeartbeat", () => {
  test("reads every field protobufjs reads, with meta and unknown fields skipped", () => {
    const data = encodeMessage(Heartbeat, full);
    const b = emptyWireBeat();
    readHeartbeat(data, b);
    const text = (s: number, e: number): string => Buffer.from(data.subarray(s, e)).toString();
    expect(text(b.groupStart, b.groupEnd)).toBe("payments");
    expect(text(b.nodeStart, b.nodeEnd)).toBe("pay-7");
    expect(text(b.instanceStart, b.instanceEnd)).toBe("4f2a-instance");
    expect(b).toMatchObject({
      seq: 123456789,
      sentAtMs: 1_763_700_000_000,
      uptimeMs: 98_765_432,
      intervalMs: 1000,
      allowedMisses: 3,
      leaving: true,
      configKeys: 2,
    });
    expect(b.configSet).toBeGreaterThan(0);
    expect(b.configSet).toBeLessThan(2 ** 53);
  });

  test("the config set is the (key, revision) pairs: order-free, blind to sha and times", () => {
    const set = (config: HeartbeatInit["config"]): number => {
      const b = emptyWireBeat();
      readHeartbeat(encodeMessage(Heartbeat, { ...full, config }), b);
      return b.configSet;
    };
    const a = set({ x: { revision: 1, sha256: "s1" }, y: { revision: 2 } });
    expect(set({ y: { revision: 2, appliedAtMs: 9 }, x: { revision: 1, sha256: "other" } })).toBe(
      a,
    );
    expect(set({ x: { revision: 1 }, y: { revision: 3 } })).not.toBe(a);
    expect(set({ x: { revision: 2 }, y: { revision: 1 } })).not.toBe(a);
    expect(set({ x: { revision: 1 } })).not.toBe(a);
    expect(set({})).toBe(0);
  });

  test("the state hash moves with process, config details, interval and misses, not the beat", () => {
    const state = (o: Partial<HeartbeatInit>): number => {
      const b = emptyWireBeat();
      readHeartbeat(encodeMessage(Heartbeat, { ...full, ...o }), b);
      return b.stateHash;
    };
    const base = state({});
    expect(state({ seq: 1, sentAtMs: 5, uptimeMs: 6, leaving: false })).toBe(base);
    expect(state({ process: { ...full.process, instanceId: "other" } })).not.toBe(base);
    expect(state({ process: { ...full.process, hostname: "h2" } })).not.toBe(base);
    expect(state({ intervalMs: 500 })).not.toBe(base);
    expect(state({ allowedMisses: 5 })).not.toBe(base);
    expect(
      state({
        config: {
          ...full.config,
          payments: { revision: 12, sha256: "ab".repeat(32), appliedAtMs: 1 },
        },
      }),
    ).not.toBe(base);
  });

  test("negative int64 and 64-bit values", () => {
    const b = emptyWireBeat();
    readHeartbeat(encodeMessage(Heartbeat, { ...full, sentAtMs: -5, uptimeMs: 2 ** 40 }), b);
    expect(b.sentAtMs).toBe(-5);
    expect(b.uptimeMs).toBe(2 ** 40);
  });

  test("truncated, overlong and wrong-typed input is a WireError naming the field", () => {
    const data = encodeMessage(Heartbeat, full);
    const b = emptyWireBeat();
    for (let cut = 1; cut < data.length; cut += 7) {
      let err: unknown;
      try {
        readHeartbeat(data.subarray(0, cut), b);
      } catch (e) {
        err = e;
      }
      // A cut may fall between two fields (a shorter but valid message); otherwise it is refused.
      if (err !== undefined) expect(err).toBeInstanceOf(WireError);
    }
    expect(() => readHeartbeat(Uint8Array.of(0x0a, 0x05, 0x61), b)).toThrow(
      /group: length 5 runs past/,
    );
    expect(() => readHeartbeat(Uint8Array.of(0x18, 0xff), b)).toThrow(/seq: truncated varint/);
    expect(() => readHeartbeat(Uint8Array.of(0x0b), b)).toThrow(/unsupported wire type 3/);
    expect(() => readHeartbeat(Uint8Array.from(Array(11).fill(0xff)), b)).toThrow(WireError);
  });
});

describe("pgTextCheck", () => {
  const bytes = (s: string): Uint8Array => Buffer.from(s, "utf8");
  test("ASCII and UTF-8 pass, NUL and broken UTF-8 do not", () => {
    expect(pgTextCheck(bytes("node-1"), 0, 6)).toBe("ok");
    const u = bytes("nœud-ü");
    expect(pgTextCheck(u, 0, u.length)).toBe("ok");
    expect(pgTextCheck(bytes("a\0b"), 0, 3)).toBe("nul");
    expect(pgTextCheck(Uint8Array.of(0x61, 0xc3), 0, 2)).toBe("invalid");
    expect(pgTextCheck(Uint8Array.of(0x00, 0x61, 0xc3), 0, 3)).toBe("invalid");
    expect(pgTextCheck(Uint8Array.of(0xc3, 0x61, 0xc3), 1, 2)).toBe("ok");
  });
});

describe("HeartbeatTuples", () => {
  test("a tuple holds exactly the row the ingest stores", () => {
    const t = new HeartbeatTuples(names, 0.2).tuple(rec(encodeMessage(Heartbeat, full)));
    const b = emptyWireBeat();
    readHeartbeat(encodeMessage(Heartbeat, full), b);
    expect(parseTuple(t.buf, t.start, t.end)).toEqual({
      time: 1_763_700_000_250,
      group_name: "payments",
      node_id: "pay-7",
      seq: 123456789,
      sent_at: 1_763_700_000_000,
      latency_ms: 250,
      late: true, // 250 ms > 1000 × 0.2
      interval_ms: 1000,
      uptime_ms: 98_765_432,
      leaving: true,
      instance_id: "4f2a-instance",
      config_set: b.configSet,
      stream_seq: 77,
    });
    expect(t).toMatchObject({ timeMs: 1_763_700_000_250, streamSeq: 77, configSet: b.configSet });
  });

  test("group and node come from the subject (the payload may leave them out); no send time means the stream time", () => {
    const tuples = new HeartbeatTuples(names, 0.5);
    const t = tuples.tuple(
      rec(encodeMessage(Heartbeat, { seq: 1 }), { subject: "kon.hb.g2.n2", timeMs: 5_000 }),
    );
    expect(parseTuple(t.buf, t.start, t.end)).toMatchObject({
      group_name: "g2",
      node_id: "n2",
      sent_at: 5_000,
      latency_ms: 0,
      late: false,
      instance_id: "",
      config_set: 0,
    });
    expect(t).toMatchObject({ group: "g2", node: "n2" });
  });

  test("a subject that does not parse, or a payload naming another group or node, is refused", () => {
    const tuples = new HeartbeatTuples(names, 0.5);
    const data = encodeMessage(Heartbeat, full);
    for (const subject of [
      "kon.hb",
      "kon.hb.payments",
      "kon.hb.payments.pay-7.extra",
      "kon.hb.Payments.pay-7",
      "kon.hb.payments.pay*7",
      "other.hb.payments.pay-7",
      "kon.evt.payments.pay-7",
    ]) {
      expect(() => tuples.tuple(rec(data, { subject }))).toThrow(/invalid heartbeat subject/);
    }
    expect(() => tuples.tuple(rec(data, { subject: "kon.hb.payments.pay-8" }))).toThrow(
      "payload names payments.pay-7, subject names payments.pay-8",
    );
    expect(() => tuples.tuple(rec(data, { subject: "kon.hb.billing.pay-7" }))).toThrow(
      "payload names payments.pay-7, subject names billing.pay-7",
    );
    const t = tuples.tuple(rec(data, { subject: "kon.hb.payments.pay-7" }));
    expect(parseTuple(t.buf, t.start, t.end).node_id).toBe("pay-7");
  });

  test("NUL becomes U+FFFD, broken UTF-8 is refused, and a refused beat leaves nothing behind", () => {
    const tuples = new HeartbeatTuples(names, 0.5);
    const withNul = { ...full, process: { ...full.process, instanceId: "a\0b" } };
    const t1 = tuples.tuple(rec(encodeMessage(Heartbeat, withNul)));
    expect(parseTuple(t1.buf, t1.start, t1.end).instance_id).toBe("a\uFFFDb");
    const bad = Buffer.from(
      encodeMessage(Heartbeat, { ...full, process: { ...full.process, instanceId: "xy" } }),
    );
    bad[bad.indexOf("xy") + 1] = 0xc3; // "x" followed by a lone lead byte
    expect(() => tuples.tuple(rec(bad))).toThrow(/process.instance_id is not valid UTF-8/);
    expect(() =>
      tuples.tuple(rec(encodeMessage(Heartbeat, { ...full, intervalMs: 2 ** 31 }))),
    ).toThrow(/interval_ms/);
    const t2 = tuples.tuple(rec(encodeMessage(Heartbeat, full)));
    expect(t2.start).toBe(t1.end);
  });

  test("tuples fill an arena back to back and move to a new one when it is full", () => {
    const tuples = new HeartbeatTuples(names, 0.5);
    const data = encodeMessage(Heartbeat, full);
    let prev = tuples.tuple(rec(data));
    let arenas = 1;
    for (let i = 0; i < 20_000; i++) {
      const t = tuples.tuple(rec(data, { streamSeq: i }));
      if (t.buf === prev.buf) expect(t.start).toBe(prev.end);
      else arenas++;
      expect(parseTuple(t.buf, t.start, t.end).stream_seq).toBe(i);
      prev = t;
    }
    expect(arenas).toBeGreaterThan(1);
  });
});
