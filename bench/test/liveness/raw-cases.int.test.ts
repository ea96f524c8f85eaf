import { startRawNatsCase } from "../../src/liveness/raw-nats-case";
import { startRawRedisCase } from "../../src/liveness/raw-redis-case";
import { runCase } from "../../src/liveness/run-case";
import type { CaseDriver } from "../../src/liveness/case-driver";
import type { RowResult } from "../../src/liveness/run-case";
import { smallPlan } from "./small-plan";

async function runRow(start: () => Promise<CaseDriver>): Promise<RowResult> {
  const driver = await start();
  try {
    return await runCase(driver, smallPlan());
  } finally {
    await driver.close();
  }
}

describe("bench:liveness baselines (real servers)", () => {
  it("raw NATS: every stopped key's expiry marker reaches the watch, no other", async () => {
    const r = await runRow(() => startRawNatsCase(2, "core"));
    expect(r.problems).toEqual([]);
    expect(r.detection.withDeadline).toBe(3);
    expect(r.detection.delay.n).toBe(3);
    expect(r.detection.missed).toBe(0);
    expect(r.detection.falsePositives).toBe(0);
    expect(r.lostBeats).toBe(0);
  }, 60_000);

  it("raw Redis: deadlines come from PEXPIRETIME, only stopped keys expire", async () => {
    const r = await runRow(() => startRawRedisCase(2000));
    expect(r.problems).toEqual([]);
    expect(r.detection.withDeadline).toBe(3);
    // Keyspace events may come late or never (that is what the row measures); those that do
    // come are for stopped keys only.
    expect(r.detection.delay.n + r.detection.missed).toBe(3);
    expect(r.detection.falsePositives).toBe(0);
    expect(r.lostBeats).toBe(0);
    expect(r.usage["redis-server"]?.cpuS).toBeGreaterThanOrEqual(0);
  }, 60_000);
});
