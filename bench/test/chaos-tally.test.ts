import {
  tallyConfig,
  tallyDowns,
  tallyEventRows,
  tallyHeartbeatRows,
} from "../src/chaos/chaos-tally";
import type { ConfigObservation } from "../src/chaos/chaos-tally";
import { chaosExitCode, downChecks, formatChaosTable, rowChecks } from "../src/chaos/chaos-report";
import { parseChaosOptions } from "../src/chaos/chaos-options";

const obs = (node: string, key: string, revision: number, v: number): ConfigObservation => ({
  node,
  key,
  revision,
  v,
});

describe("tallyConfig", () => {
  const lastSaved = new Map([
    ["a", 9],
    ["b", 7],
  ]);

  it("holds when every node ends on the last saved content and only moves forward", () => {
    const t = tallyConfig(
      lastSaved,
      [
        { node: "n1", key: "a", v: 9 },
        { node: "n1", key: "b", v: 7 },
        { node: "bucket", key: "a", v: 9 },
      ],
      // Skipping versions and seeing one revision twice (a reconnect) is not a regression.
      [obs("n1", "a", 3, 1), obs("n1", "a", 3, 1), obs("n1", "a", 12, 9), obs("n1", "b", 5, 7)],
    );
    expect(t).toMatchObject({ pairs: 3, lost: 0, observed: 4, regressed: 0 });
  });

  it("counts a node (or the bucket) left on older or no content as lost", () => {
    const t = tallyConfig(
      lastSaved,
      [
        { node: "n1", key: "a", v: 8 },
        { node: "n2", key: "b", v: undefined },
        { node: "bucket", key: "a", v: 9 },
      ],
      [],
    );
    expect(t.lost).toBe(2);
    expect(t.samples).toContain("n1 a: ends on v8, last saved v9");
    expect(t.samples).toContain("n2 b: ends on v-, last saved v7");
  });

  it("counts a lower revision, or older content under a newer revision, as a regression", () => {
    const t = tallyConfig(
      lastSaved,
      [],
      [
        obs("n1", "a", 10, 5),
        obs("n1", "a", 8, 6), // revision went back
        obs("n2", "a", 10, 5),
        obs("n2", "a", 11, 4), // older file republished under a new revision
        obs("n2", "b", 1, 1), // other key: its own history
      ],
    );
    expect(t.regressed).toBe(2);
    expect(t.samples[0]).toBe("n1 a: went back to rev 8 v6 after rev 10 v5");
  });
});

describe("tallyDowns", () => {
  const nodes = ["a", "b", "c", "d"];
  const killed = new Map([
    ["a", 1000],
    ["b", 2000],
  ]);
  const down = (eventId: string, node: string, detectedAtMs: number) => ({
    eventId,
    node,
    kind: "down",
    detectedAtMs,
  });

  it("holds with exactly one down per killed node and none for live ones", () => {
    const t = tallyDowns(nodes, killed, [
      down("g.a.down.5", "a", 4000),
      down("g.a.down.5", "a", 4000), // a second copy of the same transition (two monitors)
      down("g.b.down.9", "b", 5000),
      { eventId: "g.c.up.1", node: "c", kind: "up", detectedAtMs: 10 },
    ]);
    expect(t).toMatchObject({ killed: 2, live: 2, downs: 2, missed: 0, doubled: 0, invented: 0 });
  });

  it("counts a killed node without a down as missed and a second transition as doubled", () => {
    const t = tallyDowns(nodes, killed, [
      down("g.a.down.5", "a", 4000),
      down("g.a.down.8", "a", 9000),
    ]);
    expect(t).toMatchObject({ missed: 1, doubled: 1, invented: 0 });
    expect(t.samples).toEqual(expect.arrayContaining(["a: killed, 2 downs", "b: killed, no down"]));
  });

  it("counts downs of live nodes, and of killed nodes before their kill, as invented", () => {
    const t = tallyDowns(nodes, killed, [
      down("g.c.down.3", "c", 3000),
      down("g.b.down.1", "b", 1500), // before b was killed at 2000
      down("g.b.down.9", "b", 5000),
      down("g.a.down.5", "a", 4000),
    ]);
    expect(t).toMatchObject({ missed: 0, doubled: 0, invented: 2 });
    expect(t.samples[0]).toBe("c: down g.c.down.3 (never killed)");
  });
});

describe("tallyHeartbeatRows", () => {
  const messages = [
    { seq: 1, timeMs: 1000.2 },
    { seq: 2, timeMs: 1500.9 },
    { seq: 4, timeMs: 2000 },
  ];

  it("holds when every message is one row at its time (to the millisecond)", () => {
    const t = tallyHeartbeatRows(messages, [
      { seq: 2, timeMs: 1500.901 },
      { seq: 1, timeMs: 1000.2 },
      { seq: 4, timeMs: 2000.5 },
    ]);
    expect(t).toMatchObject({ messages: 3, rows: 3, lost: 0, doubled: 0, unmatched: 0 });
  });

  it("counts missing, doubled and stray rows", () => {
    const t = tallyHeartbeatRows(messages, [
      { seq: 1, timeMs: 1000.2 },
      { seq: 1, timeMs: 1000.2 },
      { seq: 4, timeMs: 9000 }, // same sequence, another time: a message the stream lost
      { seq: 3, timeMs: 1800 }, // no such message
    ]);
    expect(t).toMatchObject({ lost: 2, doubled: 1, unmatched: 2 });
  });
});

describe("tallyEventRows", () => {
  it("matches by event id; copies of an id in the stream are one event", () => {
    const t = tallyEventRows(["x", "y", "x"], ["y", "x"]);
    expect(t).toMatchObject({ messages: 2, rows: 2, lost: 0, doubled: 0, unmatched: 0 });
  });

  it("counts events without a row, ids stored twice, and rows of no event", () => {
    const t = tallyEventRows(["x", "y", "z"], ["x", "x", "q"]);
    expect(t).toMatchObject({ lost: 2, doubled: 1, unmatched: 1 });
  });
});

describe("the report", () => {
  it("exits 0 only when every count of failures is zero", () => {
    const held = downChecks({
      killed: 2,
      live: 3,
      downs: 2,
      missed: 0,
      doubled: 0,
      invented: 0,
      samples: [],
    });
    expect(chaosExitCode(held)).toBe(0);
    const lostRow = rowChecks("heartbeats", "KON_HB", {
      messages: 5,
      rows: 4,
      lost: 1,
      doubled: 0,
      unmatched: 0,
      samples: [],
    });
    expect(chaosExitCode([...held, ...lostRow])).toBe(1);
    expect(chaosExitCode([])).toBe(1);
    const table = formatChaosTable([...held, ...lostRow]);
    expect(table[0]).toMatch(/^\| area +\| check +\| checked +\| failures \| result \|$/);
    expect(table.filter((l) => l.endsWith("| FAILED |"))).toHaveLength(1);
  });
});

describe("parseChaosOptions", () => {
  it("defaults to every drill and 50 nodes; runs drills in their fixed order", () => {
    expect(parseChaosOptions([])).toMatchObject({
      drills: ["nats", "loader", "monitor", "postgres"],
      nodes: 50,
    });
    expect(parseChaosOptions(["--drills", "postgres,nats", "--nodes", "10"])).toMatchObject({
      drills: ["nats", "postgres"],
      nodes: 10,
    });
  });

  it("names an unknown drill", () => {
    expect(() => parseChaosOptions(["--drills", "nats,redis"])).toThrow(
      /invalid flag --drills: unknown drill "redis"; choose from nats, loader, monitor, postgres/,
    );
  });
});
