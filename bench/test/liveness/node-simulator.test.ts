import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import { NodeSimulator } from "../../src/liveness/node-simulator";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("NodeSimulator", () => {
  it("sends SDK-shaped heartbeats, seq +1 per node, and silences stopped nodes", async () => {
    const sent: { node: string; hb: Heartbeat }[] = [];
    const nodeIds = Array.from({ length: 20 }, (_, i) => `n${i}`);
    const sim = new NodeSimulator(
      { send: (node, payload) => sent.push({ node, hb: decodeMessage(Heartbeat, payload) }) },
      { group: "g1", nodeIds, intervalMs: 100, allowedMisses: 3, tickMs: 2 },
    );
    try {
      sim.start();
      await sleep(350);
      sim.stop([0, 1]);
      const atStop = sent.length;
      await sleep(300);
      const stats = sim.stats();

      for (const node of nodeIds) {
        const beats = sent.filter((s) => s.node === node).map((s) => s.hb);
        expect(beats.length).toBeGreaterThanOrEqual(2);
        expect(beats.map((b) => Number(b.seq))).toEqual(beats.map((_, i) => i + 1));
        for (const b of beats) {
          expect(b).toMatchObject({ group: "g1", nodeId: node, intervalMs: 100, allowedMisses: 3 });
          expect(b.process?.instanceId).toMatch(/^[0-9a-f-]{36}$/);
          expect(b.config.service1?.revision).toBe(42);
        }
      }
      const afterStop = sent.slice(atStop).map((s) => s.node);
      expect(afterStop).not.toContain("n0");
      expect(afterStop).not.toContain("n1");
      expect(afterStop).toContain("n2");
      expect(stats.beats).toBe(sent.length);
      expect(stats.maxLatenessAllMs).toBeGreaterThanOrEqual(0);
      expect(stats.expectedPerSec).toBeGreaterThan(0);
    } finally {
      sim.close();
    }
  });
});
