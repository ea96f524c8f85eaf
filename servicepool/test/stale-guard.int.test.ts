import { startService2 } from "../src/service2/service2";
import type { RunningService2 } from "../src/service2/service2";
import { ConfigPlane, eventually, http } from "./helpers/config-plane";

interface Status {
  completed: number;
  pending: number;
  active: number;
  staleRefusals: number;
  stale: { sinceMs: number; reason: string } | null;
  configRevision: number;
}

const status = async (svc: RunningService2): Promise<Status> =>
  (await http(svc.port, "/status")).body as unknown as Status;

// service2 against the real config plane (nats-server, the config-loader process): with NATS cut
// (the server shut down), the worker takes no job, and it takes them again once NATS is back.
describe("service2: no job on a stale config", () => {
  let plane: ConfigPlane;
  let svc: RunningService2;

  beforeAll(async () => {
    plane = await ConfigPlane.start("sp2g", {
      service2: "concurrency: 2\npollIntervalMs: 50\nmaxStalenessMs: 500\n",
    });
    svc = await startService2(await plane.connect("service2-g"), 0);
  });
  afterAll(async () => {
    await svc?.close();
    await plane?.stop();
  });

  it("refuses jobs while NATS is cut and accepts them again after", async () => {
    await http(svc.port, "/v1/jobs?count=2&ms=10", { method: "POST" });
    await eventually(
      "jobs done while connected",
      () => status(svc),
      (s) => s.completed === 2,
    );
    expect((await status(svc)).stale).toBeNull();

    const cutAt = Date.now();
    await plane.nats.shutdown();
    try {
      const stale = await eventually(
        "worker sees its config stale",
        () => status(svc),
        (s) => s.stale !== null,
      );
      // Not at once: the last proof (at most one 300 ms heartbeat before the cut) held for 500 ms.
      expect(stale.stale!.sinceMs - cutAt).toBeGreaterThanOrEqual(100);
      expect(stale.stale!.reason).toMatch(/STALE_CONFIG|may be stale/);
      expect(stale.stale!.reason).toMatch(/config service2/);
      await http(svc.port, "/v1/jobs?count=3&ms=10", { method: "POST" });
      const before = (await status(svc)).staleRefusals;
      await new Promise((r) => setTimeout(r, 1500));
      const cut = await status(svc);
      expect(cut.completed).toBe(2);
      expect(cut.active).toBe(0);
      expect(cut.pending).toBe(3);
      expect(cut.staleRefusals).toBeGreaterThan(before);
    } finally {
      await plane.nats.restart();
    }
    const after = await eventually(
      "jobs taken again after NATS is back",
      () => status(svc),
      (s) => s.completed === 5,
      15_000,
    );
    expect(after.stale).toBeNull();
    expect(after.pending).toBe(0);
  });
});
