import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import { NodeSimulator } from "../../src/liveness/node-simulator";
import { parsePubFrames, sdkBytesOf } from "./beat-frames";
import type { PubFrame } from "./beat-frames";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("NodeSimulator", () => {
  it("sends SDK-shaped heartbeats, seq +1 per node, and silences stopped nodes", async () => {
    const sent: { node: string; hb: Heartbeat; raw: Buffer }[] = [];
    const nodeIds = Array.from({ length: 20 }, (_, i) => `n${i}`);
    const sim = new NodeSimulator(
      {
        send: (node, payload) =>
          sent.push({ node, hb: decodeMessage(Heartbeat, payload), raw: Buffer.from(payload) }),
      },
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
      // Byte for byte what the SDK builds for the same node, seq and timestamps.
      for (const s of sent) expect(s.raw.equals(sdkBytesOf(s.raw))).toBe(true);
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

describe("NodeSimulator with a sink that takes PUB frames", () => {
  it("writes each tick's beats as PUB frames of the SDK's bytes on each node's subject", async () => {
    const batches: { beats: number; frames: PubFrame[] }[] = [];
    const nodeIds = Array.from({ length: 50 }, (_, i) => `n${i}`);
    const sink = {
      send: () => {
        throw new Error("send must not be used when the sink takes frames");
      },
      frames: {
        subject: (node: string) => `kon.hb.g1.${node}`,
        // Copied: the simulator promises never to write these bytes again, not to keep them.
        write: (frames: Uint8Array, beats: number) =>
          batches.push({ beats, frames: parsePubFrames(Buffer.from(frames)) }),
      },
    };
    const sim = new NodeSimulator(sink, { group: "g1", nodeIds, intervalMs: 100, tickMs: 2 });
    try {
      sim.start();
      await sleep(350);
      const stats = sim.stats();
      const frames = batches.flatMap((b) => b.frames);
      expect(batches.every((b) => b.beats === b.frames.length)).toBe(true);
      expect(frames.length).toBe(stats.beats);
      // Several beats per write.
      expect(Math.max(...batches.map((b) => b.beats))).toBeGreaterThan(1);
      const seqs = new Map<string, number[]>();
      for (const f of frames) {
        const hb = decodeMessage(Heartbeat, f.payload);
        expect(f.subject).toBe(`kon.hb.g1.${hb.nodeId}`);
        expect(f.payload.equals(sdkBytesOf(f.payload))).toBe(true);
        seqs.set(hb.nodeId, [...(seqs.get(hb.nodeId) ?? []), Number(hb.seq)]);
      }
      for (const node of nodeIds) {
        const s = seqs.get(node) ?? [];
        expect(s.length).toBeGreaterThanOrEqual(2);
        expect(s).toEqual(s.map((_, i) => i + 1));
      }
      expect(stats.cpuS).toBeGreaterThan(0);
      expect(stats.cpuUsPerBeat).toBeGreaterThan(0);
    } finally {
      sim.close();
    }
  });
});
