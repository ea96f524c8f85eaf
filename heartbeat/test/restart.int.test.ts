import type { NatsConnection } from "@nats-io/transport-node";
import { pidAlive } from "@konorkestra/testkit";
import { describe as show, eventsOf, readNodeEvents, waitForEvents } from "./helpers/node-events";
import { MonitorFixture } from "./helpers/monitor-fixture";
import type { MonitorProcess } from "./helpers/monitor-process";
import type { NodeSimulator } from "./helpers/node-simulator";

const TTL_MS = 1000; // 250 ms × 2 misses, rounded up to whole seconds
const NODES = ["n1", "n2", "n3", "n4"];

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
  });
  afterAll(async () => {
    await fx?.stop();
  });

  it("neither loses the down of a node that stopped while it was dead nor invents one", async () => {
    await monitor.start();
    sim.start(NODES);
    await waitForEvents(nc, (e) => NODES.every((n) => eventsOf(e, n, "up").length === 1));

    const pid = monitor.pid;
    await monitor.kill();
    expect(pidAlive(pid)).toBe(false);
    // While no monitor runs: n2 stops, the others go on. Every kon_nodes key expires (nobody
    // refreshes them), so the server writes an expiry marker for each of the four.
    sim.stop("n2");
    await new Promise((r) => setTimeout(r, 3 * TTL_MS));
    expect(eventsOf(await readNodeEvents(nc), "n2", "down")).toHaveLength(0);

    await monitor.start();
    await waitForEvents(nc, (e) => eventsOf(e, "n2", "down").length === 1);
    // Give a wrong replay every chance to show up before looking.
    await new Promise((r) => setTimeout(r, 3 * TTL_MS));
    const events = await readNodeEvents(nc);
    expect(show(events.filter((e) => e.kind !== "up"))).toBe("down g1.n2");
    for (const n of NODES) expect(eventsOf(events, n, "up")).toHaveLength(1);
    const nodes = await monitor.get<{ nodes: { node: string; status: string }[] }>(
      "/v1/nodes?group=g1",
    );
    expect(Object.fromEntries(nodes.nodes.map((n) => [n.node, n.status]))).toEqual({
      n1: "up",
      n2: "down",
      n3: "up",
      n4: "up",
    });
  });

  it("finds a node that went down and came back while no monitor ran", async () => {
    await monitor.kill();
    sim.stop("n4");
    await new Promise((r) => setTimeout(r, 2.5 * TTL_MS));
    sim.resume("n4");
    await new Promise((r) => setTimeout(r, TTL_MS));
    await monitor.start();
    // Judged from the heartbeats' server timestamps in KON_HB: a gap longer than the TTL.
    const events = await waitForEvents(nc, (e) => eventsOf(e, "n4", "up").length === 2);
    expect(show(eventsOf(events, "n4"))).toBe("up g1.n4, down g1.n4, up g1.n4");
    expect(eventsOf(events, "n4", "down")[0]!.event.reason).toMatch(/gap found/);
  });

  it("emits no down for the time it was itself stalled (SIGSTOP) while the nodes kept beating", async () => {
    await waitForEvents(nc, (e) => eventsOf(e, "n4", "up").length === 2); // settled after the last test
    const before = (await readNodeEvents(nc)).length;
    process.kill(monitor.pid, "SIGSTOP");
    await new Promise((r) => setTimeout(r, 3 * TTL_MS));
    process.kill(monitor.pid, "SIGCONT");
    // On waking every deadline looks past by its clock; KON_HB shows the beats that came meanwhile.
    await new Promise((r) => setTimeout(r, 3 * TTL_MS));
    expect((await readNodeEvents(nc)).slice(before).map((e) => `${e.kind} ${e.node}`)).toEqual([]);
    const metrics = await (await fetch(`${monitor.url}/metrics`)).text();
    // Deadlines that looked past were checked and found alive: either a down candidate was
    // postponed by a later beat in KON_HB, or an expiry signal was judged alive (which of the two
    // depends on whether the sweep or the marker reached the node first after SIGCONT).
    expect(metrics).toMatch(
      /kon_monitor_down_postponed_total\{monitor="solo"\} [1-9]|kon_monitor_expiry_signals_total\{[^}]*outcome="alive"[^}]*\} [1-9]/,
    );
  });

  it("reports a node that stopped just before the crash, once, after the restart", async () => {
    sim.stop("n3");
    // Killed before the deadline passes: the down has not been reported by anyone yet.
    await monitor.kill();
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    await monitor.start();
    await waitForEvents(nc, (e) => eventsOf(e, "n3", "down").length === 1);
    await new Promise((r) => setTimeout(r, 2 * TTL_MS));
    const events = await readNodeEvents(nc);
    expect(show(events.filter((e) => e.kind !== "up"))).toBe("down g1.n2, down g1.n4, down g1.n3");
    expect(await monitor.stop()).toBe(0);
  });
});
