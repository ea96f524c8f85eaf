import { jetstreamManager } from "@nats-io/jetstream";
import { headers } from "@nats-io/transport-node";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, decodeMessage, encodeMessage } from "@konorkestra/proto";
import { silentLogger } from "@konorkestra/sdk";
import { wireNames } from "@konorkestra/sdk/internal";
import { NatsBackend } from "../src/backends/nats-backend";
import { createMonitorMetrics } from "../src/metrics";
import { eventsOf, eventually, readNodeEvents, waitForEvents } from "./helpers/node-events";
import { MonitorFixture } from "./helpers/monitor-fixture";
import type { NodeSimulator } from "./helpers/node-simulator";

// 250 ms × 2 misses = 500 ms, rounded up to a 1 s TTL.
const TTL_MS = 1000;
const REFRESH_MS = 20_000;
const names = wireNames("kon");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A record write as the server received it. */
interface Write {
  status: string;
  op: string;
  ttl: string;
  data: Uint8Array;
}

/** Every record write for a node (a core subscription sees each publish). */
function recordWrites(nc: NatsConnection, node: string): Write[] {
  const seen: Write[] = [];
  nc.subscribe(`$KV.kon_nodes.g1.${node}`, {
    callback: (_err, m: Msg) => {
      seen.push({
        status: m.headers?.get("Kon-Status") ?? "",
        op: m.headers?.get("KV-Operation") ?? "",
        ttl: m.headers?.get("Nats-TTL") ?? "",
        data: m.data,
      });
    },
  });
  return seen;
}

describe("kon_nodes records refreshed every KON_RECORD_REFRESH_MS", () => {
  let fx: MonitorFixture;
  let nc: NatsConnection;
  let sim: NodeSimulator;

  beforeAll(async () => {
    fx = await MonitorFixture.start();
    nc = fx.nc;
    await fx.monitor({ monitorId: "m1", recordRefreshMs: REFRESH_MS });
    sim = fx.simulator({ group: "g1", intervalMs: 250, misses: 2 });
  });
  afterAll(async () => {
    await fx?.stop();
  });

  it("writes a beating node's record once per period, with Nats-TTL = period + TTL + 1 s", async () => {
    const writes = recordWrites(nc, "p");
    await nc.flush();
    sim.start(["p"]);
    await waitForEvents(nc, (e) => eventsOf(e, "p", "up").length === 1);
    // 24 beats over 6 s: once per TTL would be 6 writes, once per beat 24.
    await sleep(6 * TTL_MS);
    expect(writes).toHaveLength(1);
    expect(writes[0]!.ttl).toBe(`${(REFRESH_MS + TTL_MS + 1000) / 1000}s`);
    expect(writes[0]!.status).toBe("up");
    // The record stays while the node beats, far beyond its TTL.
    const jsm = await jetstreamManager(nc);
    const stored = await jsm.streams.getMessage("KV_kon_nodes", {
      last_by_subj: "$KV.kon_nodes.g1.p",
    });
    expect(stored?.header.get("Kon-Status")).toBe("up");
    expect(stored?.header.get("Nats-Marker-Reason")).toBe("");
  });

  it("writes a down at once, and the next beat's record at once", async () => {
    const writes = recordWrites(nc, "p");
    await nc.flush();
    sim.stop("p");
    await waitForEvents(nc, (e) => eventsOf(e, "p", "down").length === 1);
    await eventually(() => writes.length === 1, "the down tombstone");
    expect(writes[0]!.status).toBe("down");
    sim.resume("p");
    await waitForEvents(nc, (e) => eventsOf(e, "p", "up").length === 2);
    await eventually(() => writes.length === 2, "the live record after the up");
    expect(writes[1]!.status).toBe("up");
    expect(writes[1]!.op).toBe("");
  });

  it("writes a change of the node's config keys at once (what STRONG voters are chosen by)", async () => {
    const writes = recordWrites(nc, "c");
    await nc.flush();
    let keys = ["svc"];
    let revision = 1;
    const beat = () =>
      // A new revision on every beat: revisions alone must not cause a write.
      sim.beatOnce("c", {
        intervalMs: 250,
        allowedMisses: 2,
        config: Object.fromEntries(
          keys.map((k) => [k, { revision: revision++, sha256: "b".repeat(64), appliedAtMs: 1 }]),
        ),
      });
    await beat();
    const timer = setInterval(() => void beat().catch(() => undefined), 250);
    try {
      await waitForEvents(nc, (e) => eventsOf(e, "c", "up").length === 1);
      await sleep(2 * TTL_MS);
      expect(writes).toHaveLength(1);
      keys = ["svc", "svc.db"];
      // Within a few beats, not at the next period 20 s on.
      await eventually(() => writes.length === 2, "the record with the new key", 5000);
      const value = decodeMessage(Heartbeat, writes[1]!.data);
      expect(Object.keys(value.config ?? {}).sort()).toEqual(["svc", "svc.db"]);
      await sleep(2 * TTL_MS);
      expect(writes).toHaveLength(2);
    } finally {
      clearInterval(timer);
    }
  });
  it("writes a node's longer TTL at once, with a Nats-TTL that covers the longer period", async () => {
    const writes = recordWrites(nc, "t");
    await nc.flush();
    let misses = 2; // 250 ms × 2: TTL 1 s
    const beat = () => sim.beatOnce("t", { intervalMs: 250, allowedMisses: misses });
    await beat();
    const timer = setInterval(() => void beat().catch(() => undefined), 250);
    try {
      await waitForEvents(nc, (e) => eventsOf(e, "t", "up").length === 1);
      await eventually(() => writes.length === 1, "the first record");
      misses = 8; // 250 ms × 8: TTL 2 s
      await eventually(() => writes.length === 2, "the record with the new TTL", 5000);
      expect(writes[1]!.ttl).toBe(`${(REFRESH_MS + 2000 + 1000) / 1000}s`);
      expect(writes[1]!.status).toBe("up");
    } finally {
      clearInterval(timer);
    }
  });
});

describe("NatsBackend expiry markers", () => {
  let fx: MonitorFixture;
  let nc: NatsConnection;
  let backend: NatsBackend;
  const metrics = createMonitorMetrics("mk");

  beforeAll(async () => {
    fx = await MonitorFixture.start();
    nc = fx.nc;
    backend = new NatsBackend(
      nc,
      names,
      {
        markerTtlMs: 60_000,
        tombstoneTtlMs: 60_000,
        replicas: 1,
        monitorId: "mk",
        recordRefreshMs: 0,
      },
      metrics,
      silentLogger,
    );
    await backend.init();
    await backend.loadSeeds();
  });
  afterAll(async () => {
    await backend?.close();
    await fx?.stop();
  });

  it("hands every expiry marker, and nothing else, to the expiry handler", async () => {
    const judged: string[] = [];
    await backend.startExpirySignals((key) => {
      judged.push(key);
      return Promise.resolve({ outcome: "down" });
    });
    const body = (node: string) => encodeMessage(Heartbeat, { group: "g1", nodeId: node });
    const write = (node: string, ttl: string, op?: string) => {
      const h = headers();
      h.set("Kon-Status", op ? "down" : "up");
      h.set("Nats-TTL", ttl);
      if (op) h.set("KV-Operation", op);
      nc.publish(`$KV.kon_nodes.g1.${node}`, op ? new Uint8Array() : body(node), { headers: h });
    };
    // x and y expire (one marker each); z is rewritten until the end; t is a bodyless tombstone.
    write("x", "1s");
    write("y", "2s");
    write("t", "60s", "PURGE");
    for (let i = 0; i < 20; i++) {
      write("z", "2s");
      await sleep(250);
    }
    await eventually(() => judged.length >= 2, "two markers judged", 10_000);
    await sleep(1000);
    expect(judged.sort()).toEqual(["g1.x", "g1.y"]);
    const signals = await metrics.expirySignals.get();
    expect(signals.values.find((v) => v.labels.outcome === "down")?.value).toBe(2);
    // The markers are in the bucket as the server wrote them.
    const jsm = await jetstreamManager(nc);
    const marker = await jsm.streams.getMessage("KV_kon_nodes", {
      last_by_subj: "$KV.kon_nodes.g1.x",
    });
    expect(marker?.header.get("Nats-Marker-Reason")).toBe("MaxAge");
  });
});

describe("a node that stopped while no monitor ran, its record expired", () => {
  let fx: MonitorFixture;
  let nc: NatsConnection;
  let sim: NodeSimulator;

  beforeAll(async () => {
    fx = await MonitorFixture.start();
    nc = fx.nc;
    sim = fx.simulator({ group: "g1", intervalMs: 250, misses: 2 });
  });
  afterAll(async () => {
    await fx?.stop();
  });

  it("is reported down once when a monitor starts again; the one still beating is not", async () => {
    // Period 2 s: records carry Nats-TTL 2 + 1 + 1 = 4 s.
    const first = await fx.monitor({ monitorId: "m1", recordRefreshMs: 2000 });
    sim.start(["q", "r"]);
    await waitForEvents(nc, (e) => ["q", "r"].every((n) => eventsOf(e, n, "up").length === 1));
    await first.close();
    sim.stop("q");
    // Nobody refreshes the records now: both expire, later than the nodes' deadlines.
    const jsm = await jetstreamManager(nc);
    const marked = async (n: string) =>
      (
        await jsm.streams.getMessage("KV_kon_nodes", { last_by_subj: `$KV.kon_nodes.g1.${n}` })
      )?.header.get("Nats-Marker-Reason") === "MaxAge";
    await eventually(
      async () => (await marked("q")) && (await marked("r")),
      "both markers",
      15_000,
    );
    expect(eventsOf(await readNodeEvents(nc), "q", "down")).toHaveLength(0);

    await fx.monitor({ monitorId: "m1", recordRefreshMs: 2000 });
    await waitForEvents(nc, (e) => eventsOf(e, "q", "down").length === 1);
    await sleep(3 * TTL_MS);
    const events = await readNodeEvents(nc);
    expect(eventsOf(events, "q", "down")).toHaveLength(1);
    expect(eventsOf(events, "r", "down")).toHaveLength(0);
    expect(eventsOf(events, "r", "up")).toHaveLength(1);
  });
});
