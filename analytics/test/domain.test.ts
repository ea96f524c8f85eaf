import { computeDrift } from "../src/domain/drift";
import type { NodeConfig } from "../src/domain/drift";
import { driftedOnPage, summarizeDrift } from "../src/domain/drift-summary";
import { incidentsOf } from "../src/domain/incidents";
import { computeReliability } from "../src/domain/reliability";
import { stateIntervals } from "../src/domain/state-intervals";
import type { StateEvent } from "../src/model/event-kinds";
import { computeUptime } from "../src/domain/uptime";

const H = 3_600_000;
const ev = (atMs: number, state: StateEvent["state"], suspect = false): StateEvent => ({
  atMs,
  state,
  suspect,
});

describe("uptime", () => {
  test("interpolates the state at the window's start from the event before it", () => {
    // Down since before the window, up at 6h: 18 of 24 hours up.
    const u = computeUptime(ev(-5 * H, "down"), [ev(6 * H, "up")], 0, 24 * H);
    expect(u).toMatchObject({ observedMs: 24 * H, upMs: 18 * H, downMs: 6 * H, uptimePct: 75 });
  });

  test("a node first seen inside the window is measured from its first event", () => {
    const u = computeUptime(undefined, [ev(12 * H, "up"), ev(18 * H, "left")], 0, 24 * H);
    expect(u).toMatchObject({
      observedFromMs: 12 * H,
      observedMs: 12 * H,
      upMs: 6 * H,
      leftMs: 6 * H,
      uptimePct: 50,
    });
  });

  test("is time-weighted: repeated events do not count twice, order of arrival does not matter", () => {
    const events = [ev(10 * H, "up"), ev(2 * H, "down"), ev(3 * H, "down"), ev(4 * H, "up")];
    const u = computeUptime(ev(-1, "up"), events, 0, 10 * H);
    expect(u.downMs).toBe(2 * H);
    expect(u.uptimePct).toBe(80);
  });

  test("nothing known is null, not 0% or 100%", () => {
    expect(computeUptime(undefined, [], 0, H).uptimePct).toBeNull();
  });
});

describe("incidents", () => {
  test("DOWN or LEFT until the next UP; down-then-left is one incident with the first cause", () => {
    const intervals = stateIntervals(
      ev(-H, "up"),
      [ev(1 * H, "down", true), ev(2 * H, "left"), ev(3 * H, "up"), ev(5 * H, "left")],
      0,
      10 * H,
    );
    expect(incidentsOf("g", "n", intervals, 10 * H)).toEqual([
      {
        group: "g",
        node: "n",
        startMs: H,
        endMs: 3 * H,
        durationMs: 2 * H,
        cause: "expiry",
        suspect: true,
        open: false,
      },
      {
        group: "g",
        node: "n",
        startMs: 5 * H,
        endMs: null,
        durationMs: 5 * H,
        cause: "clean leave",
        suspect: false,
        open: true,
      },
    ]);
  });

  test("an incident that began before the window keeps its real start", () => {
    const intervals = stateIntervals(ev(-3 * H, "down"), [ev(H, "up")], 0, 2 * H);
    expect(incidentsOf("g", "n", intervals, 2 * H)[0]).toMatchObject({
      startMs: -3 * H,
      durationMs: 4 * H,
    });
  });
});

describe("reliability", () => {
  test("MTTR over repaired failures, MTBF over up time, clean leaves are not failures", () => {
    const incidents = [
      {
        group: "g",
        node: "a",
        startMs: 1 * H,
        endMs: 2 * H,
        durationMs: H,
        cause: "expiry" as const,
        suspect: false,
        open: false,
      },
      {
        group: "g",
        node: "a",
        startMs: 5 * H,
        endMs: 8 * H,
        durationMs: 3 * H,
        cause: "expiry" as const,
        suspect: false,
        open: false,
      },
      {
        group: "g",
        node: "b",
        startMs: 4 * H,
        endMs: null,
        durationMs: 6 * H,
        cause: "clean leave" as const,
        suspect: false,
        open: true,
      },
    ];
    const r = computeReliability(
      [
        { group: "g", node: "a", upMs: 6 * H },
        { group: "g", node: "b", upMs: 4 * H },
      ],
      incidents,
      0,
      10 * H,
      10 * H,
    );
    expect(r).toMatchObject({
      nodes: 2,
      incidents: 3,
      failures: 2,
      cleanLeaves: 1,
      incidentsPerNode: 1.5,
    });
    expect(r.mttrMs).toBe(2 * H);
    expect(r.mtbfMs).toBe(5 * H);
    expect(r.topNodes).toEqual([
      { group: "g", node: "b", downtimeMs: 6 * H, incidents: 1 },
      { group: "g", node: "a", downtimeMs: 4 * H, incidents: 2 },
    ]);
  });

  test("no failures: MTTR and MTBF are null, not 0", () => {
    const r = computeReliability([{ group: "g", node: "a", upMs: H }], [], 0, H, H);
    expect(r.mttrMs).toBeNull();
    expect(r.mtbfMs).toBeNull();
  });
});

describe("config drift", () => {
  test("groups nodes by revision against the latest, lists missing and unknown keys", () => {
    const d = computeDrift(
      "g",
      [{ key: "k", revision: 5, sha256: "s5" }],
      [
        { node: "a", status: "up", config: { k: { revision: 5 } } },
        { node: "b", status: "up", config: { k: { revision: 4, rejectedRevision: 5 } } },
        { node: "c", status: "up", config: { gone: { revision: 1 } } },
      ],
    );
    expect(d.keys[0]).toMatchObject({ inSync: 1, drifted: 1, missing: ["c"] });
    expect(d.keys[0]!.revisions.map((r) => [r.revision, r.current, r.nodes])).toEqual([
      [5, true, ["a"]],
      [4, false, ["b"]],
    ]);
    expect(d.unknownKeys).toEqual([{ key: "gone", nodes: ["c"] }]);
  });
});

test("the drift summary's counts equal computeDrift's lists for the same nodes", () => {
  const latest = [
    { key: "svc", revision: 3, sha256: "s3" },
    { key: "db", revision: 2, sha256: "d2" },
  ];
  const nodes: NodeConfig[] = [
    { node: "a", status: "up", config: { svc: { revision: 3 }, db: { revision: 2 } } },
    { node: "b", status: "up", config: { svc: { revision: 2, rejectedRevision: 3 } } },
    { node: "c", status: "up", config: { svc: { revision: 3 }, old: { revision: 1 } } },
  ];
  const full = computeDrift("g", latest, nodes);
  const tallies = [
    { key: "svc", revision: 3, n: 2, rejected: 0 },
    { key: "svc", revision: 2, n: 1, rejected: 1 },
    { key: "db", revision: 2, n: 1, rejected: 0 },
    { key: "old", revision: 1, n: 1, rejected: 0 },
  ];
  const sum = summarizeDrift("g", latest, nodes.length, tallies);
  expect(sum.keys.map((k) => [k.key, k.inSync, k.drifted, k.missing])).toEqual(
    full.keys.map((k) => [k.key, k.inSync, k.drifted, k.missing.length]),
  );
  expect(sum.keys[0]!.revisions).toEqual([
    { revision: 3, current: true, nodes: 2, rejected: 0 },
    { revision: 2, current: false, nodes: 1, rejected: 1 },
  ]);
  expect(sum.unknownKeys).toEqual([{ key: "old", nodes: 1 }]);
  expect(summarizeDrift("g", undefined, 3, tallies).bucket).toBe(false);
  // The page's drifting nodes: b (svc behind, db missing), c (db missing); down nodes never.
  const page = driftedOnPage(
    [
      ...nodes.map((n) => ({ group: "g", node: n.node, liveness: "up", config: n.config })),
      { group: "g", node: "d", liveness: "down", config: {} },
    ],
    new Map([["g", latest]]),
  );
  expect(page.map((d) => [d.node, d.keys.map((k) => `${k.key}:${k.revision}`)])).toEqual([
    ["b", ["svc:2", "db:null"]],
    ["c", ["db:null"]],
  ]);
});
