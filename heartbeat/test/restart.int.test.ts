import type { NatsConnection } from "@nats-io/transport-node";
import { pidAlive } from "@konorkestra/testkit";
import {
  describe as show,
  eventsOf,
  eventually,
  readNodeEvents,
  waitForEvents,
} from "./helpers/node-events";
import type { StoredNodeEvent } from "./helpers/node-events";
import { MonitorFixture } from "./helpers/monitor-fixture";
import type { MonitorProcess } from "./helpers/monitor-process";
import type { NodeSimulator } from "./helpers/node-simulator";

const TTL_MS = 1000; // 250 ms × 2 misses, rounded up to whole seconds
// n2, n3 and n4 go down together below; with five nodes beating on that is 3 of 8, under the
// mass-failure rule's half (a down of 3 of 4 would rightly be marked suspect).
const NODES = ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"];
const BEATING = ["n1", "n5", "n6", "n7", "n8"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("a monitor process killed and restarted", () => {
  let fx: MonitorFixture;
  let nc: NatsConnection;
  let sim: NodeSimulator;
  let monitor: MonitorProcess;

  beforeAll(async () => {
    fx = await MonitorFixture.start();
    nc = fx.nc;
    sim = fx.simulator({ group: "g1", intervalMs: 250, misses: 2 });
    monitor = fx.process("solo");
    await monitor.start();
    sim.start(NODES);
    await waitForEvents(nc, (e) => NODES.every((n) => eventsOf(e, n, "up").length === 1));
  });
  afterAll(async () => {
    await fx?.stop();
  });

  // One crash and one restart for three things that happen around it (each was a kill and a
  // restart of its own): a node that stopped just before the crash (n3), one that stopped while
  // no monitor ran (n2), one that stopped and came back meanwhile (n4); the others beat on.
  describe("while nodes stopped, or stopped and came back", () => {
    let events: StoredNodeEvent[];

    beforeAll(async () => {
      // Killed before n3's deadline passes: its down has not been reported by anyone yet.
      sim.stop("n3");
      const pid = monitor.pid;
      await monitor.kill();
      expect(pidAlive(pid)).toBe(false);
      sim.stop("n2");
      sim.stop("n4");
      await sleep(2.5 * TTL_MS);
      sim.resume("n4");
      await sleep(TTL_MS);
      // The nodes' kon_nodes records outlive this (their TTL is the refresh period + TTL + 1 s):
      // what happened meanwhile is found in KON_HB, which the restarted monitor replays.
      expect((await readNodeEvents(nc)).map((e) => e.kind)).toEqual(NODES.map(() => "up"));

      await monitor.start();
      await waitForEvents(
        nc,
        (e) =>
          eventsOf(e, "n2", "down").length === 1 &&
          eventsOf(e, "n3", "down").length === 1 &&
          eventsOf(e, "n4", "up").length === 2,
      );
      // Give a wrong replay every chance to show up before looking: two TTLs past the replay,
      // so every deadline it restored has come and gone.
      await sleep(2 * TTL_MS);
      events = await readNodeEvents(nc);
    });

    it("reports the down of a node that stopped while it was dead, once", () => {
      expect(show(eventsOf(events, "n2"))).toBe("up g1.n2, down g1.n2");
    });

    it("reports a node that stopped just before the crash, once", () => {
      expect(show(eventsOf(events, "n3"))).toBe("up g1.n3, down g1.n3");
    });

    it("finds a node that went down and came back while no monitor ran", () => {
      // Judged from the heartbeats' server timestamps in KON_HB: a gap longer than the TTL.
      expect(show(eventsOf(events, "n4"))).toBe("up g1.n4, down g1.n4, up g1.n4");
      expect(eventsOf(events, "n4", "down")[0]!.event.reason).toMatch(/gap found/);
    });

    it("invents no down for the nodes that kept beating, and serves what it found", async () => {
      for (const n of BEATING) expect(show(eventsOf(events, n))).toBe(`up g1.${n}`);
      const downs = events.filter((e) => e.kind !== "up").map((e) => e.node);
      expect(downs.sort()).toEqual(["n2", "n3", "n4"]);
      const nodes = await monitor.get<{ nodes: { node: string; status: string }[] }>(
        "/v1/nodes?group=g1",
      );
      expect(Object.fromEntries(nodes.nodes.map((n) => [n.node, n.status]))).toEqual({
        ...Object.fromEntries(BEATING.map((n) => [n, "up"])),
        n2: "down",
        n3: "down",
        n4: "up",
      });
    });
  });

  it("emits no down for the time it was itself stalled (SIGSTOP) while the nodes kept beating", async () => {
    const before = (await readNodeEvents(nc)).length;
    process.kill(monitor.pid, "SIGSTOP");
    // Two TTLs: on waking every deadline is at least one TTL past by the monitor's clock.
    await sleep(2 * TTL_MS);
    process.kill(monitor.pid, "SIGCONT");
    // KON_HB shows the beats that came meanwhile. Deadlines that looked past were checked and
    // found alive: either a down candidate was postponed by a later beat in KON_HB, or an expiry
    // signal was judged alive (which of the two depends on whether the sweep or the marker
    // reached the node first after SIGCONT).
    const checked =
      /kon_monitor_down_postponed_total\{monitor="solo"\} [1-9]|kon_monitor_expiry_signals_total\{[^}]*outcome="alive"[^}]*\} [1-9]/;
    let metrics = "";
    await eventually(
      async () => checked.test((metrics = await (await fetch(`${monitor.url}/metrics`)).text())),
      "the past deadlines checked against KON_HB",
      10_000,
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; metrics:\n${metrics}`);
    });
    // Then two TTLs for a wrong down to show up: none may.
    await sleep(2 * TTL_MS);
    expect((await readNodeEvents(nc)).slice(before).map((e) => `${e.kind} ${e.node}`)).toEqual([]);
  });

  it("stops gracefully on SIGTERM", async () => {
    expect(await monitor.stop()).toBe(0);
  });
});
