// Golden tables of the fleet commands, from fixed data (the integration tests check the same
// tables against live services with their volatile columns normalized).
import { EVENT_HEAD, eventRows } from "../src/commands/events-command";
import { NODE_HEAD, nodeRows } from "../src/commands/nodes-command";
import type { MonitorNode } from "../src/commands/nodes-command";
import { renderTable } from "../src/output/output";

const node = (over: Partial<MonitorNode>): MonitorNode => ({
  group: "payments",
  node: "web-1",
  status: "up",
  lastHeartbeatAtMs: 1_700_000_000_000,
  ageMs: 850,
  intervalMs: 1000,
  instanceId: "i-1",
  suspect: false,
  config: {},
  ...over,
});

test("nodes: refused and pending revisions, mass downs, nodes never seen", () => {
  const rows = nodeRows([
    node({
      config: {
        "service1.db": { revision: 9, rejectedRevision: 0, pendingRevision: 12 },
        service1: { revision: 7, rejectedRevision: 8, pendingRevision: 0 },
      },
    }),
    node({ node: "web-2", status: "down", suspect: true, ageMs: 125_000, intervalMs: 5000 }),
    node({ group: "search", node: "idx-1", status: "unknown", lastHeartbeatAtMs: 0 }),
  ]);
  expect(renderTable(NODE_HEAD, rows)).toBe(
    [
      "GROUP     NODE   STATUS       LAST BEAT  INTERVAL  CONFIG",
      "payments  web-1  up           850ms ago  1s        service1@7!8 service1.db@9→12",
      "payments  web-2  down (mass)  2m ago     5s        -",
      "search    idx-1  unknown      -          1s        -",
    ].join("\n"),
  );
});

test("events: config rejections name the file, node events their cause", () => {
  const rows = eventRows([
    {
      id: "e1",
      atMs: Date.UTC(2026, 11, 4, 8, 0, 0),
      kind: "config.rejected",
      group: "payments",
      node: null,
      key: "service1",
      revision: null,
      detail: "payments/service1.yaml: line 3: bad indentation",
    },
    {
      id: "e2",
      atMs: Date.UTC(2026, 11, 4, 8, 0, 5),
      kind: "node.down",
      group: "payments",
      node: "web-2",
      key: null,
      revision: null,
      detail: "expiry",
    },
  ]);
  expect(renderTable(EVENT_HEAD, rows)).toBe(
    [
      "TIME                      KIND             GROUP     NODE/KEY  REV  DETAIL",
      "2026-12-04T08:00:00.000Z  config.rejected  payments  service1  -    payments/service1.yaml: line 3: bad indentation",
      "2026-12-04T08:00:05.000Z  node.down        payments  web-2     -    expiry",
    ].join("\n"),
  );
});
