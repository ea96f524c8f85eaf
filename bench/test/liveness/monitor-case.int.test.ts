import { startMonitorCase } from "../../src/liveness/monitor-case";
import { runCase } from "../../src/liveness/run-case";
import type { RowResult } from "../../src/liveness/run-case";
import { smallPlan } from "./small-plan";

async function runMonitorRow(backend: "nats" | "redis"): Promise<RowResult> {
  const driver = await startMonitorCase(backend, "bench");
  try {
    return await runCase(driver, smallPlan());
  } finally {
    await driver.close();
  }
}

describe("bench:liveness monitor rows (monitor in its own process, real servers)", () => {
  it.each(["nats", "redis"] as const)(
    "%s backend: every stopped node is reported down after its KON_HB deadline, no other",
    async (backend) => {
      const r = await runMonitorRow(backend);
      const d = r.detection;
      expect(r.problems).toEqual([]);
      expect(d.stopped).toBe(3);
      expect(d.withDeadline).toBe(3);
      expect(d.delay.n).toBe(3);
      expect(d.missed).toBe(0);
      // The monitor judges by the server's clock: a down never precedes the deadline.
      expect(d.early).toBe(0);
      expect(d.falsePositives).toBe(0);
      expect(d.duplicates).toBe(0);
      // The down names the last heartbeat KON_HB holds for the node.
      expect(d.refMismatches).toBe(0);
      expect(r.lostBeats).toBe(0);
      expect(r.sim.beats).toBeGreaterThan(0);
      expect(r.sim.cpuUsPerBeat).toBeGreaterThan(0);
      // The fleet beats from a process of its own, measured by its pid.
      expect(r.usage.simulator?.cpuS).toBeGreaterThan(0);
      expect(r.simUsPerBeat).toBeGreaterThan(0);
      // Production credentials: the nodes joined through the callout (before the window), and
      // the probe read /metrics with its read token (a refused request is no sample).
      expect(r.auth).toMatch(/join key through the auth callout/);
      expect(r.calloutsInWindow).toBe(0);
      expect(r.notes.join("\n")).toMatch(/current in \d+% of [1-9]\d* samples/);
      expect(r.usage.monitor?.cpuS).toBeGreaterThan(0);
      expect(r.usage.monitor?.rssMaxMiB).toBeGreaterThan(0);
      expect(r.usage["nats-server"]?.cpuS).toBeGreaterThanOrEqual(0);
      if (backend === "redis") expect(r.usage["redis-server"]?.cpuS).toBeGreaterThanOrEqual(0);
    },
    60_000,
  );
});
