import { startService2 } from "../src/service2/service2";
import type { RunningService2 } from "../src/service2/service2";
import { ConfigPlane, eventually, http } from "./helpers/config-plane";

describe("service2: worker concurrency and poll interval change live", () => {
  let plane: ConfigPlane;
  let svc: RunningService2;

  beforeAll(async () => {
    plane = await ConfigPlane.start("sp2", { service2: "concurrency: 1\npollIntervalMs: 1000\n" });
    svc = await startService2(await plane.connect("service2-a"), 0);
  });
  afterAll(async () => {
    await svc?.close();
    await plane?.stop();
  });

  it("runs one job at a time, then four after the file is edited", async () => {
    expect((await http(svc.port, "/v1/jobs?count=40&ms=200", { method: "POST" })).status).toBe(202);
    await eventually(
      "one active job",
      async () => (await http(svc.port, "/status")).body,
      (s) => s.active === 1,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect((await http(svc.port, "/status")).body.maxActiveSeen).toBe(1);

    plane.write("service2", "concurrency: 4\npollIntervalMs: 1000\n");
    const status = await eventually(
      "four active jobs",
      async () => (await http(svc.port, "/status")).body,
      (s) => s.maxActiveSeen === 4,
    );
    expect(status.concurrency).toBe(4);
  });

  it("polls an empty queue faster after the interval is lowered", async () => {
    await eventually(
      "queue drained",
      async () => (await http(svc.port, "/status")).body,
      (s) => s.pending === 0 && s.active === 0,
      20_000,
    );
    const before = (await http(svc.port, "/status")).body.polls as number;
    await new Promise((r) => setTimeout(r, 500));
    const slow = ((await http(svc.port, "/status")).body.polls as number) - before;
    expect(slow).toBeLessThanOrEqual(2);

    plane.write("service2", "concurrency: 4\npollIntervalMs: 20\n");
    await eventually(
      "interval applied",
      async () => (await http(svc.port, "/status")).body,
      (s) => s.pollIntervalMs === 20,
    );
    const start = (await http(svc.port, "/status")).body.polls as number;
    await new Promise((r) => setTimeout(r, 500));
    expect(((await http(svc.port, "/status")).body.polls as number) - start).toBeGreaterThan(10);
  });
});
