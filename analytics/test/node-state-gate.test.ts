import type { HeartbeatRow } from "../src/ingest/heartbeat-row";
import { NodeStateGate } from "../src/ingest/node-state-gate";

const row = (node: string, timeMs: number, o: Partial<HeartbeatRow> = {}): HeartbeatRow => ({
  timeMs,
  group: "g",
  node,
  seq: timeMs,
  sentMs: timeMs,
  intervalMs: 1000,
  allowedMisses: 3,
  uptimeMs: 0,
  leaving: false,
  instanceId: "i1",
  hostname: null,
  serviceName: null,
  sdkVersion: null,
  revisions: "{}",
  config: { svc: { revision: 1, sha256: "ab", appliedAtMs: 5 } },
  streamSeq: timeMs,
  ...o,
});

describe("NodeStateGate", () => {
  test("one update per node per batch: the newest beat, with its config as JSON", () => {
    const gate = new NodeStateGate(2000);
    const due = gate.due([
      row("a", 10),
      row("b", 11),
      row("a", 12),
      row("a", 12, { streamSeq: 1 }),
    ]);
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
    gate.remember(gate.due([row("a", 1000), row("b", 1000), row("c", 1000), row("d", 1000)]));
    const due = gate.due([
      row("a", 2500), // within the resolution, nothing changed
      row("b", 3500), // older than the resolution
      row("c", 1500, { instanceId: "i2" }), // restarted
      row("d", 1500, { config: { svc: { revision: 2, sha256: "cd", appliedAtMs: 6 } } }),
      row("e", 1500), // never written
    ]);
    // Only b's beat moved: no config is sent for it; c, d and e are written in full.
    expect(due.map((u) => [u.row.node, u.config === null]).sort()).toEqual([
      ["b", true],
      ["c", false],
      ["d", false],
      ["e", false],
    ]);
  });

  test("nothing is remembered without a commit, and resolution 0 updates every newer beat", () => {
    const gate = new NodeStateGate(0);
    gate.due([row("a", 1000)]); // rolled back: never remembered
    expect(gate.due([row("a", 1000)])).toHaveLength(1);
    gate.remember(gate.due([row("a", 1000)]));
    expect(gate.due([row("a", 1000)])).toHaveLength(0);
    expect(gate.due([row("a", 1001)])).toHaveLength(1);
  });
});
