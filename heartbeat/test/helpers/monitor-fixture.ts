import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../../src/monitor";
import type { Monitor } from "../../src/monitor";
import type { MonitorOptions } from "../../src/options";
import { MonitorProcess } from "./monitor-process";
import { NodeSimulator } from "./node-simulator";
import type { SimulatorOptions } from "./node-simulator";

/** Sweeps often, so that tests with 1 s TTLs see downs promptly. */
const SWEEP_MS = 50;

/** nats.js' TimeoutError of the first connection attempt (its stack runs through the dial). */
function dialTimedOut(err: unknown): boolean {
  return err instanceof Error && err.name === "TimeoutError" && /\bdial\b/.test(err.stack ?? "");
}

/** What a test's monitor is given; the connection and credential come from the fixture. */
export type FixtureMonitorOptions = Omit<MonitorOptions, "servers"> & { monitorId: string };

/**
 * One real nats-server per test file, the test user's connection (`nc`, all rights: it plays
 * the nodes and reads the streams), and the monitors of the file, in-process or as processes of
 * their own. Each monitor connects with the monitor role's least-privilege credential, as
 * `make up` runs it. `stop()` ends everything it started, whatever a test already closed.
 */
export class MonitorFixture {
  private readonly monitors: Monitor[] = [];
  private readonly processes: MonitorProcess[] = [];
  private readonly simulators: NodeSimulator[] = [];

  private constructor(
    readonly nats: NatsServer,
    readonly nc: NatsConnection,
  ) {}

  static async start(): Promise<MonitorFixture> {
    const nats = await startNats();
    try {
      return new MonitorFixture(nats, await connect(nats.clientOptions()));
    } catch (err) {
      await nats.stop();
      throw err;
    }
  }

  /** A monitor in this process; waits until its heartbeat consumer is current unless told not to. */
  async monitor(
    given: FixtureMonitorOptions,
    wait: "current" | "started" = "current",
  ): Promise<Monitor> {
    const start = (): Promise<Monitor> =>
      createMonitor(
        { ...this.nats.serviceOptions("monitor"), port: 0, sweepIntervalMs: SWEEP_MS, ...given },
        { logger: silentLogger },
      );
    let m: Monitor;
    for (let attempt = 1; ; attempt++) {
      try {
        m = await start();
        break;
      } catch (err) {
        // The first connect has 2 s (connectService); in a test process that also runs another
        // monitor's start and the simulated nodes, at a CI load of 15-24, the TLS dial missed it
        // (nats.js TimeoutError). In production the process exits and its supervisor starts it
        // again: so does this fixture, at most twice, for a failed dial only (nothing was created).
        if (attempt >= 3 || !dialTimedOut(err)) throw err;
        console.warn(`monitor ${given.monitorId}: first connect timed out, starting it again`);
      }
    }
    this.monitors.push(m);
    if (wait === "current") await m.current;
    return m;
  }

  /** A monitor process (`src/main.ts`), not started yet; `env` adds KON_* settings. */
  process(monitorId: string, env: Record<string, string> = {}): MonitorProcess {
    const p = new MonitorProcess({
      ...this.nats.serviceEnv("monitor"),
      KON_MONITOR_ID: monitorId,
      KON_SWEEP_INTERVAL_MS: String(SWEEP_MS),
      ...env,
    });
    this.processes.push(p);
    return p;
  }

  /** Simulated nodes beating through the test user's connection. */
  simulator(opts: SimulatorOptions): NodeSimulator {
    const sim = new NodeSimulator(this.nc, opts);
    this.simulators.push(sim);
    return sim;
  }

  async stop(): Promise<void> {
    for (const sim of this.simulators) sim.close();
    await Promise.all(this.processes.map((p) => p.kill()));
    await Promise.all(this.monitors.map((m) => m.close().catch(() => undefined)));
    await this.nc.close();
    await this.nats.stop();
  }
}
