import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import { Konorkestra, silentLogger } from "../src";
import { sdkVersion } from "../src/internal";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { HeartbeatCollector, readStream, sleep, waitUntil } from "./heartbeat-collector";

describe("heartbeat client (real nats-server)", () => {
  let nats: NatsServer;
  let collector: HeartbeatCollector;
  const open: Konorkestra[] = [];

  const connectNode = async (nodeId: string, service = "billing"): Promise<Konorkestra> => {
    const kon = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "g",
      nodeId,
      service,
      logger: silentLogger,
    });
    open.push(kon);
    return kon;
  };

  beforeAll(async () => {
    nats = await startNats();
    collector = await HeartbeatCollector.start(nats.clientOptions(), "kon.hb.g.>");
  });
  afterAll(async () => {
    for (const kon of open) await kon.close();
    await collector?.close();
    await nats?.stop();
  });

  it("beats with seq 1, 2, 3… at about the interval, with process info, config and meta", async () => {
    const kon = await connectNode("a1");
    kon.applied.set("svc.db", { revision: 12, sha256: "ab".repeat(32), appliedAtMs: 1000 });
    kon.applied.set("flags", {
      revision: 9,
      sha256: "cd".repeat(32),
      appliedAtMs: 2000,
      rejectedRevision: 10,
    });
    const hb = kon.heartbeat({
      intervalMs: 200,
      misses: 2,
      meta: { region: "eu-west-1", zone: "b" },
      serviceVersion: "1.2.3",
    });
    await collector.waitFor("5 beats of a1", () => collector.of("a1").length >= 5);
    const beats = collector.of("a1").slice(0, 5);

    expect(beats.map((b) => b.seq)).toEqual([1, 2, 3, 4, 5]);
    // Beats follow the grid start + k × 200 ms: the mean gap cannot be under the interval
    // (timers never fire early); the upper bound only catches a wrong interval, not slowness.
    const mean = (beats[4]!.sentAtMs - beats[0]!.sentAtMs) / 4;
    expect(mean).toBeGreaterThanOrEqual(195);
    expect(mean).toBeLessThan(600);

    const first = beats[0]!;
    expect(first).toMatchObject({
      group: "g",
      nodeId: "a1",
      intervalMs: 200,
      allowedMisses: 2,
      leaving: false,
      meta: { region: "eu-west-1", zone: "b" },
      process: {
        pid: process.pid,
        serviceName: "billing",
        serviceVersion: "1.2.3",
        sdkVersion: sdkVersion(),
        nodeVersion: process.version,
        instanceId: hb.instanceId,
      },
    });
    expect(first.uptimeMs).toBeGreaterThan(0);
    expect(first.config["svc.db"]).toMatchObject({ revision: 12, sha256: "ab".repeat(32) });
    expect(first.config.flags).toMatchObject({ revision: 9, rejectedRevision: 10 });

    // The registry is read at every beat: a newly applied revision shows in the next ones.
    kon.applied.set("svc.db", { revision: 13, sha256: "ef".repeat(32), appliedAtMs: 3000 });
    kon.applied.delete("flags");
    await collector.waitFor("a beat with revision 13", () =>
      collector.of("a1").some((b) => b.config["svc.db"]?.revision === 13),
    );
    const later = collector.of("a1").find((b) => b.config["svc.db"]?.revision === 13)!;
    expect(later.config.flags).toBeUndefined();
    expect(later.config["svc.db"]?.sha256).toBe("ef".repeat(32));
    expect(hb.seq).toBeGreaterThanOrEqual(later.seq);
    expect(hb.lastSentAt).toBeGreaterThanOrEqual(later.sentAtMs);
    await hb.stop();
  });

  it("refuses oversized meta with a KonError and sends nothing", async () => {
    const kon = await connectNode("a2");
    const meta = Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, "v"]));
    expect(() => kon.heartbeat({ meta })).toThrow(
      expect.objectContaining({ code: "HEARTBEAT_META_TOO_LARGE" }) as Error,
    );
    expect(() => kon.heartbeat({ meta: { big: "x".repeat(5000) } })).toThrow(
      /heartbeat meta is 5003 bytes/,
    );
    expect(() => kon.heartbeat({ intervalMs: 50 })).toThrow(/invalid heartbeat option intervalMs/);
    await sleep(300);
    await collector.nc.flush();
    expect(collector.of("a2")).toEqual([]);
    // The refused calls left nothing running: a valid one starts.
    const hb = kon.heartbeat({ intervalMs: 1000 });
    await collector.waitFor("a2's first beat", () => collector.of("a2").length === 1);
    await hb.stop();
  });

  it("stop() sends exactly one leaving beat, acknowledged in KON_HB, then nothing", async () => {
    const kon = await connectNode("a3");
    const hb = kon.heartbeat({ intervalMs: 100 });
    await collector.waitFor("3 beats of a3", () => collector.of("a3").length >= 3);
    await Promise.all([hb.stop(), hb.stop()]);
    await hb.stop();
    expect(hb.running).toBe(false);
    expect(hb.beatNow()).toBe(false);
    const seqAtStop = hb.seq;
    await sleep(500); // five intervals: a running timer would have beaten again
    await collector.nc.flush();

    const beats = collector.of("a3");
    expect(beats.filter((b) => b.leaving)).toHaveLength(1);
    const last = beats[beats.length - 1]!;
    expect(last.leaving).toBe(true);
    expect(last.seq).toBe(seqAtStop);
    expect(hb.seq).toBe(seqAtStop);
    expect(beats.map((b) => b.seq)).toEqual(Array.from({ length: seqAtStop }, (_, i) => i + 1));

    // Stream KON_HB captured every beat, the leaving one last.
    const stored = await readStream(collector.nc, "KON_HB", "kon.hb.g.a3");
    expect(stored.map((b) => [b.seq, b.leaving])).toEqual(beats.map((b) => [b.seq, b.leaving]));
  });

  it("kon.close() stops the heartbeat with a leaving beat", async () => {
    const kon = await connectNode("a4");
    const hb = kon.heartbeat({ intervalMs: 1000 });
    await collector.waitFor("a4's first beat", () => collector.of("a4").length === 1);
    await kon.close();
    expect(hb.running).toBe(false);
    await collector.waitFor("a4's leaving beat", () => collector.of("a4").some((b) => b.leaving));
    expect(collector.of("a4").map((b) => [b.seq, b.leaving])).toEqual([
      [1, false],
      [2, true],
    ]);
    expect(() => kon.heartbeat()).toThrow(expect.objectContaining({ code: "CLOSED" }) as Error);
  });

  it("allows one heartbeat at a time; a restarted one continues seq and instance id", async () => {
    const kon = await connectNode("a5");
    const first = kon.heartbeat({ intervalMs: 1000 });
    expect(() => kon.heartbeat()).toThrow(
      expect.objectContaining({ code: "HEARTBEAT_RUNNING" }) as Error,
    );
    await collector.waitFor("a5's first beat", () => collector.of("a5").length === 1);
    await first.stop();
    const second = kon.heartbeat({ intervalMs: 1000 });
    await collector.waitFor("a5's third beat", () => collector.of("a5").length === 3);
    expect(second.instanceId).toBe(first.instanceId);
    expect(collector.of("a5").map((b) => [b.seq, b.leaving, b.process?.instanceId])).toEqual([
      [1, false, first.instanceId],
      [2, true, first.instanceId],
      [3, false, first.instanceId],
    ]);
    await second.stop();
  });

  it("beatNow() sends at once but never floods", async () => {
    const kon = await connectNode("a6");
    const hb = kon.heartbeat({ intervalMs: 5000 });
    await waitUntil("a6's first beat", () => hb.seq === 1);
    await sleep(150);
    expect(hb.beatNow()).toBe(true);
    expect(hb.beatNow()).toBe(false); // under 100 ms after the previous beat
    expect(hb.seq).toBe(2);
    await collector.waitFor("a6's second beat", () => collector.of("a6").length === 2);
    await hb.stop();
  });

  it("without a heartbeat stream the leaving beat still goes out once, with a warning", async () => {
    const warnings: string[] = [];
    const kon = await Konorkestra.connect({
      ...nats.clientOptions(),
      group: "g",
      nodeId: "a8",
      prefix: "nohb",
      logger: { ...silentLogger, warn: (m) => warnings.push(m) },
    });
    open.push(kon);
    await (await kon.jetstreamManager()).streams.delete("NOHB_HB");
    const leaving: number[] = [];
    const sub = collector.nc.subscribe("nohb.hb.g.a8", {
      callback: (_err, msg) => {
        const b = decodeMessage(Heartbeat, msg.data);
        if (b.leaving) leaving.push(b.seq);
      },
    });
    await collector.nc.flush();
    const hb = kon.heartbeat({ intervalMs: 1000, leaveTimeoutMs: 500 });
    await waitUntil("a8's first beat", () => hb.seq === 1);
    await hb.stop();
    await sleep(200);
    await collector.nc.flush();
    expect(leaving).toEqual([2]); // once: the unacknowledged request is not sent again
    expect(warnings.join("\n")).toMatch(
      /leaving heartbeat sent but not acknowledged by JetStream \(stream NOHB_HB\)/,
    );
    sub.unsubscribe();
  });

  it("gives an inert handle in file: config mode (no NATS)", async () => {
    const kon = await Konorkestra.connect({
      group: "g",
      nodeId: "a7",
      configSource: "file:/nonexistent",
      logger: silentLogger,
    });
    const hb = kon.heartbeat({ intervalMs: 100 });
    await sleep(250);
    expect(hb.seq).toBe(0);
    await kon.close();
    expect(hb.running).toBe(false);
    expect(collector.of("a7")).toEqual([]);
  });
});
