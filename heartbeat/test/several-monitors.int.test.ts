import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { parseNodeEventId, wireNames } from "@konorkestra/sdk/internal";
import type { Monitor } from "../src/monitor";
import { eventually, eventsOf, readNodeEvents, waitForEvents } from "./helpers/node-events";
import type { StoredNodeEvent } from "./helpers/node-events";
import { MonitorFixture } from "./helpers/monitor-fixture";
import type { FixtureMonitorOptions } from "./helpers/monitor-fixture";
import type { MonitorProcess } from "./helpers/monitor-process";
import type { NodeSimulator } from "./helpers/node-simulator";

const TTL_MS = 1000;
const NODES = Array.from({ length: 12 }, (_, i) => `n${i + 1}`);
const SHARED = { memberLeaseMs: 2000, handoverMs: 2500 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const names = wireNames("kon");

/**
 * How long the NATS server went without a heartbeat of the node a `down` names: from the beat
 * the down's id names (KON_HB sequence) to the node's next beat in KON_HB. The server's record
 * decides liveness, so a down is true when this gap is at least the TTL, and false otherwise.
 * Infinity when the node has not beaten since.
 */
async function serverGapMs(nc: NatsConnection, down: StoredNodeEvent): Promise<number> {
  const ref = Number(parseNodeEventId(down.event.eventId)?.ref);
  if (!Number.isSafeInteger(ref)) throw new Error(`down ${down.event.eventId} names no KON_HB seq`);
  const jsm = await jetstreamManager(nc);
  const last = await jsm.streams.getMessage("KON_HB", { seq: ref });
  const next = await jsm.direct.getMessage("KON_HB", {
    seq: ref + 1,
    next_by_subj: names.heartbeatSubject(down.group, down.node),
  });
  if (!last) throw new Error(`no KON_HB beat ${ref} for ${down.event.eventId}`);
  return next ? next.time.getTime() - last.time.getTime() : Infinity; // never beat again
}

/** Node events this monitor published, by what the stream made of them. */
async function published(
  m: Monitor,
  result: "stored" | "duplicate",
  kind?: string,
): Promise<number> {
  const metric = await m.metrics.events.get();
  return metric.values
    .filter((v) => v.labels.result === result && (kind === undefined || v.labels.kind === kind))
    .reduce((n, v) => n + v.value, 0);
}

describe("several monitors", () => {
  let fx: MonitorFixture;
  let nc: NatsConnection;
  let m1: Monitor;
  let m2: Monitor;
  let sim: NodeSimulator;
  let victim: MonitorProcess;
  const opts = (monitorId: string): FixtureMonitorOptions => ({ monitorId, ...SHARED });

  beforeAll(async () => {
    fx = await MonitorFixture.start();
    nc = fx.nc;
    [m1, m2] = await Promise.all([fx.monitor(opts("m1")), fx.monitor(opts("m2"))]);
    await eventually(
      () => m1.membership.members().length === 2 && m2.membership.members().length === 2,
      "both monitors in the membership",
    );
    sim = fx.simulator({ group: "g1", intervalMs: 250, misses: 2 });
    victim = fx.process("m3", {
      KON_MEMBER_LEASE_MS: String(SHARED.memberLeaseMs),
      KON_HANDOVER_MS: String(SHARED.handoverMs),
    });
  });
  afterAll(async () => {
    await fx?.stop();
  });

  it("share the nodes and store every event once", async () => {
    sim.start(NODES);
    let events = await waitForEvents(nc, (e) =>
      NODES.every((n) => eventsOf(e, n, "up").length > 0),
    );
    const stopped = ["n2", "n7", "n11"];
    for (const n of stopped) sim.stop(n);
    await waitForEvents(nc, (e) => stopped.every((n) => eventsOf(e, n, "down").length > 0));
    await new Promise((r) => setTimeout(r, 2 * TTL_MS + SHARED.handoverMs));
    events = await readNodeEvents(nc);
    for (const n of NODES) expect(eventsOf(events, n, "up")).toHaveLength(1);
    for (const n of stopped) expect(eventsOf(events, n, "down")).toHaveLength(1);
    expect(events).toHaveLength(NODES.length + stopped.length);

    // Both published (each owns its share), and between them no event went out twice.
    expect(new Set(events.map((e) => e.event.monitorId))).toEqual(new Set(["m1", "m2"]));
    expect((await published(m1, "stored")) + (await published(m2, "stored"))).toBe(events.length);
    expect((await published(m1, "duplicate")) + (await published(m2, "duplicate"))).toBe(0);
    // The kon_nodes keys are written by the owner only: both monitors write some.
    const jsm = await jetstreamManager(nc);
    const writers = new Set<string>();
    for (const n of NODES.filter((x) => !stopped.includes(x))) {
      const m = await jsm.streams.getMessage("KV_kon_nodes", {
        last_by_subj: `$KV.kon_nodes.g1.${n}`,
      });
      writers.add(m?.header.get("Kon-Monitor") ?? "");
    }
    expect(writers).toEqual(new Set(["m1", "m2"]));
  });

  it("both out of the membership (restarted together, replaying): one of them publishes a down", async () => {
    const before = (await readNodeEvents(nc)).length;
    await Promise.all([m1.close(), m2.close()]);
    // No monitor runs while n4 stops and its deadline passes: both find the down in the backlog
    // their durable consumers replay, before they are (or just as they become) members again.
    sim.stop("n4");
    await sleep(2 * TTL_MS);
    [m1, m2] = await Promise.all([
      fx.monitor(opts("m1"), "started"),
      fx.monitor(opts("m2"), "started"),
    ]);
    expect(m1.membership.isJoined || m2.membership.isJoined).toBe(false);
    await waitForEvents(nc, (e) => eventsOf(e, "n4", "down").length === 1, 20_000);
    // Give a second copy every chance: past the handover, and a hold for a changed owner.
    await sleep(2 * SHARED.handoverMs);
    const after = (await readNodeEvents(nc)).slice(before);
    const n4 = after.filter((e) => e.node === "n4");
    expect(n4.map((e) => e.kind)).toEqual(["down"]);
    expect(await serverGapMs(nc, n4[0]!)).toBe(Infinity);
    // The other nodes kept beating, from this same process, which also runs both monitors'
    // starts and replays: in one clean-clone CI run 6 of them were reported down and up again
    // here. Such a down is allowed only if the server itself went a TTL without a beat of the
    // node (the simulator was starved); a down without that gap would be a false one.
    const others = after.filter((e) => e.node !== "n4");
    for (const e of others) {
      expect(["down", "up"]).toContain(e.kind);
      if (e.kind === "down") expect(await serverGapMs(nc, e)).toBeGreaterThanOrEqual(TTL_MS);
    }
    // Both found it; exactly one published it (a second publish would show as a duplicate).
    expect(m1.tracker.get("g1.n4")?.status).toBe("down");
    expect(m2.tracker.get("g1.n4")?.status).toBe("down");
    const downs = [m1, m2].map((m) => published(m, "stored", "down"));
    const dups = [m1, m2].map((m) => published(m, "duplicate", "down"));
    expect((await Promise.all(downs)).reduce((a, b) => a + b)).toBe(1);
    expect((await Promise.all(dups)).reduce((a, b) => a + b)).toBe(0);
    await eventually(
      () => m1.membership.members().length === 2 && m2.membership.members().length === 2,
      "both monitors back in the membership",
    );
  });

  it("take over the nodes of a monitor that crashed, without a false down", async () => {
    await victim.start();
    await eventually(() => m1.membership.isLive("m3") && m2.membership.isLive("m3"), "m3 joined");
    const running = NODES.filter((n) => !["n2", "n4", "n7", "n11"].includes(n));
    const ofVictim = running.filter((n) => m1.membership.owner(`g1.${n}`) === "m3");
    expect(ofVictim.length).toBeGreaterThan(1);
    const dies = ofVictim[0]!;
    const before = (await readNodeEvents(nc)).length;

    await victim.kill();
    sim.stop(dies);
    const events = await waitForEvents(nc, (e) => eventsOf(e, dies, "down").length === 1, 20_000);
    expect(eventsOf(events, dies, "down")[0]!.event.monitorId).not.toBe("m3");
    // The victim's other nodes lost their store refreshes for a lease; they must not go down.
    await new Promise((r) => setTimeout(r, SHARED.memberLeaseMs + SHARED.handoverMs + TTL_MS));
    const after = await readNodeEvents(nc);
    expect(after.slice(before).map((e) => `${e.kind} ${e.node}`)).toEqual([`down ${dies}`]);
    expect(m1.membership.members()).toEqual(["m1", "m2"]);
    // The victim's other nodes are now written by their new owners. (Their records are written
    // with refresh period + TTL + 1 s, 12 s here, so they need not expire during the handover; a marker that does come is
    // judged against KON_HB, and the check above shows none became a down.)
    const jsm = await jetstreamManager(nc);
    for (const n of ofVictim.slice(1)) {
      await eventually(async () => {
        const m = await jsm.streams.getMessage("KV_kon_nodes", {
          last_by_subj: `$KV.kon_nodes.g1.${n}`,
        });
        return ["m1", "m2"].includes(m?.header.get("Kon-Monitor") ?? "");
      }, `${n} written by its new owner`);
    }
  });
});
