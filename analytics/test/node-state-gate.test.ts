import { Heartbeat, encodeMessage } from "@konorkestra/proto";
import type { HeartbeatInit } from "@konorkestra/proto";
import { wireNames } from "@konorkestra/sdk/internal";
import { HeartbeatTuples } from "../src/ingest/heartbeat/heartbeat-tuples";
import type { HeartbeatTuple } from "../src/ingest/heartbeat/heartbeat-tuples";
import { NodeStateGate } from "../src/ingest/heartbeat/node-state-gate";
import { nodeStateRow } from "../src/ingest/heartbeat/node-state-row";

const tuples = new HeartbeatTuples(wireNames("kon"), 0.5);

/** A real encoded heartbeat of node `node`, stored at `timeMs` with stream sequence `seq`. */
const beat = (
  node: string,
  timeMs: number,
  o: Partial<HeartbeatInit> = {},
  seq = timeMs,
): HeartbeatTuple =>
  tuples.tuple({
    subject: `kon.hb.g.${node}`,
    data: encodeMessage(Heartbeat, {
      group: "g",
      nodeId: node,
      seq: timeMs,
      sentAtMs: timeMs,
      intervalMs: 1000,
      allowedMisses: 3,
      process: { instanceId: "i1" },
      config: { svc: { revision: 1, sha256: "ab", appliedAtMs: 5 } },
      ...o,
    }),
    streamSeq: seq,
    timeMs,
  });

describe("NodeStateGate", () => {
  test("one update per node per batch: the newest beat, with its config as JSON", () => {
    const gate = new NodeStateGate(2000);
    const due = gate.due([beat("a", 10), beat("b", 11), beat("a", 12), beat("a", 12, {}, 1)]);
    expect(due.map((u) => [u.row.node, u.row.timeMs, u.row.streamSeq])).toEqual([
      ["a", 12, 12],
      ["b", 11, 11],
    ]);
    expect(JSON.parse(due[0]!.config!)).toEqual({
      svc: { revision: 1, sha256: "ab", appliedAtMs: 5, rejectedRevision: 0, pendingRevision: 0 },
    });
  });

  test("after a commit, a node is due again only after the resolution or on a change", () => {
    const gate = new NodeStateGate(2000);
    const nodes = ["a", "b", "c", "d", "f", "h"];
    gate.remember(gate.due(nodes.map((n) => beat(n, 1000))));
    const due = gate.due([
      beat("a", 2500), // within the resolution, nothing changed
      beat("b", 3500), // older than the resolution
      beat("c", 1500, { process: { instanceId: "i2" } }), // restarted
      beat("d", 1500, { config: { svc: { revision: 2, sha256: "cd", appliedAtMs: 6 } } }),
      beat("e", 1500), // never written
      beat("f", 1500, { intervalMs: 500 }),
      beat("h", 1500, {
        config: { svc: { revision: 1, sha256: "ab", appliedAtMs: 5, pendingRevision: 2 } },
      }),
    ]);
    // Only b's beat moved: no config is sent for it; the others are written in full.
    expect(due.map((u) => [u.row.node, u.config === null]).sort()).toEqual([
      ["b", true],
      ["c", false],
      ["d", false],
      ["e", false],
      ["f", false],
      ["h", false],
    ]);
  });

  test("nothing is remembered without a commit, and resolution 0 updates every newer beat", () => {
    const gate = new NodeStateGate(0);
    gate.due([beat("a", 1000)]); // rolled back: never remembered
    expect(gate.due([beat("a", 1000)])).toHaveLength(1);
    gate.remember(gate.due([beat("a", 1000)]));
    expect(gate.due([beat("a", 1000)])).toHaveLength(0);
    expect(gate.due([beat("a", 1001)])).toHaveLength(1);
  });

  test("a beat-only update carries the beat's own seq and send time, without a full decode", () => {
    const gate = new NodeStateGate(2000);
    gate.remember(gate.due([beat("a", 1000)]));
    const t = beat("a", 4000, { seq: 77, sentAtMs: 3990 });
    const [u] = gate.due([t]);
    expect(u!.config).toBeNull();
    expect(u!.full).toBeNull();
    const decoded = nodeStateRow(t);
    expect(u!.row).toEqual({
      timeMs: 4000,
      group: "g",
      node: "a",
      seq: decoded.seq,
      sentMs: decoded.sentMs,
      streamSeq: 4000,
    });
    expect([u!.row.seq, u!.row.sentMs]).toEqual([77, 3990]);
    // A send time from the future is clamped as the stored row's is (claimedTime).
    const w = beat("a", 9000, { sentAtMs: 9000 + 86_400_000 });
    const [v] = gate.due([w]);
    expect(v!.full).toBeNull();
    expect(v!.row.sentMs).toBe(nodeStateRow(w).sentMs);
    expect(v!.row.sentMs).not.toBe(9000 + 86_400_000);
  });
});
