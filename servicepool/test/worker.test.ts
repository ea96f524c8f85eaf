import { MemoryJobSource } from "../src/service2/job-source";
import { Worker } from "../src/service2/worker";
import { SettableConfig } from "./helpers/settable-config";

function gatedJobs(n: number): { jobs: (() => Promise<void>)[]; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return { jobs: Array.from({ length: n }, () => () => gate), release };
}

async function until(cond: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("Worker", () => {
  it("runs at most `concurrency` jobs and follows a live change", async () => {
    const config = new SettableConfig({ concurrency: 2, pollIntervalMs: 10, maxStalenessMs: 2000 });
    const source = new MemoryJobSource();
    const worker = new Worker(config, source);
    const first = gatedJobs(6);
    source.push(...first.jobs);
    worker.start();
    await until(() => worker.status().active === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(worker.status().maxActiveSeen).toBe(2);

    await config.set({ concurrency: 5, pollIntervalMs: 10, maxStalenessMs: 2000 });
    await until(() => worker.status().active === 5);
    expect(worker.status().concurrency).toBe(5);
    first.release();
    await until(() => worker.status().completed === 6);
    await worker.stop();
  });

  it("polls an empty queue at the configured interval, changed live", async () => {
    const config = new SettableConfig({
      concurrency: 1,
      pollIntervalMs: 200,
      maxStalenessMs: 2000,
    });
    const source = new MemoryJobSource();
    const worker = new Worker(config, source);
    worker.start();
    await new Promise((r) => setTimeout(r, 450));
    const slow = source.polls;
    expect(slow).toBeLessThanOrEqual(4);
    await config.set({ concurrency: 1, pollIntervalMs: 10, maxStalenessMs: 2000 });
    const before = source.polls;
    await new Promise((r) => setTimeout(r, 300));
    expect(source.polls - before).toBeGreaterThan(8);
    await worker.stop();
  });

  it("takes no job while the guard says the config is stale, and resumes after", async () => {
    const config = new SettableConfig({ concurrency: 2, pollIntervalMs: 10, maxStalenessMs: 2000 });
    config.staleReason = "config service2 may be stale: test";
    const source = new MemoryJobSource();
    const changes: unknown[] = [];
    const worker = new Worker(config, source, undefined, (s) => changes.push(s));
    source.push(...gatedJobs(3).jobs);
    worker.start();
    await until(() => worker.status().staleRefusals >= 3);
    expect(source.polls).toBe(0);
    expect(source.pending).toBe(3);
    expect(worker.status().stale?.reason).toMatch(/may be stale/);

    config.staleReason = undefined;
    await until(() => worker.status().active === 2);
    expect(worker.status().stale).toBeNull();
    expect(changes).toHaveLength(2);
    expect((changes[0] as { sinceMs: number }).sinceMs).toBeGreaterThan(0);
    expect(changes[1]).toBeNull();
    await worker.stop();
  });
});
