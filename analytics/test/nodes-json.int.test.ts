import { get } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startPostgres } from "@konorkestra/testkit";
import type { PostgresDatabase } from "@konorkestra/testkit";
import express from "express";
import { Pool } from "pg";
import { FleetQueries } from "../src/domain/fleet-queries";
import { fleetRouter } from "../src/http/fleet-router";
import { compactFleetNode } from "../src/model/fleet-node";
import type { FleetNode, NodeKey } from "../src/model/fleet-node";
import { EventStore } from "../src/store/event-store";
import { FleetStore } from "../src/store/fleet-store";
import type { NodeListQuery } from "../src/store/fleet-store";
import type { KvConfigReader } from "../src/store/kv-config-reader";
import { sql } from "./helpers/count-rows";

// /v1/nodes is assembled from JSON parts PostgreSQL formatted (kept per node and row version) and
// the beat read per request; it must say exactly what the row-by-row view (FleetStore.nodes, used
// by drift and the tests of the API) says, also after rows change under it.

let db: PostgresDatabase;
let pool: Pool;
let fleet: FleetStore;
let server: Server;
let base: string;
const HOLD = 600_000;
const BIG = 2345;
const now = Date.now();

beforeAll(async () => {
  db = await startPostgres();
  pool = new Pool({ connectionString: db.url, max: 2 });
  fleet = new FleetStore(pool, HOLD);
  await sql(
    db.url,
    `INSERT INTO node_state (group_name, node_id, status, status_since, status_at, suspect,
       flapping_at, last_beat_at, last_sent_at, last_seq, instance_id, interval_ms, hostname,
       service_name, sdk_version, config) VALUES
     ('g1', 'a', 'up', $1, $1, false, NULL, $2, $2, 41, 'i-a', 1000, 'h"ost\\\\1', 'svc', '0.1.0',
      '{"k": {"revision": 3, "sha256": "ab", "appliedAtMs": 7},
        "k.\\"q\\"": {"revision": 5, "sha256": "cd", "appliedAtMs": 8, "rejectedRevision": 6,
                    "pendingRevision": 4},
        "p": {"revision": 2, "sha256": "ef", "appliedAtMs": 9, "rejectedRevision": 1,
              "pendingRevision": 7}}'),
     ('g1', 'b', 'down', $1, $1, true, $3, $2, $2, 9, 'i-b', 500, 'ünï\tcode', NULL, NULL, '{}'),
     ('g1', 'c', 'up', $1, $1, false, $4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '{}'),
     ('g2', 'd', 'unknown', NULL, NULL, false, NULL, $2, $2, 1, 'i-d', 1000, 'h', 's', 'v', '{}')`,
    [
      new Date(now - 3_600_000),
      new Date(now - 1234),
      new Date(now - 60_000),
      new Date(now - 2 * HOLD),
    ],
  );
  // A fleet as the ingest leaves it: three keys with sha256 each, some refused or pending.
  await sql(
    db.url,
    `INSERT INTO node_state (group_name, node_id, status, status_since, suspect, flapping_at,
       last_beat_at, last_seq, instance_id, interval_ms, hostname, service_name, sdk_version,
       config)
     SELECT 'g3', 'n' || lpad(i::text, 5, '0'),
            CASE WHEN i % 7 = 0 THEN 'down' WHEN i % 11 = 0 THEN 'left' ELSE 'up' END,
            $1::timestamptz - i * interval '1 second', i % 13 = 0,
            CASE WHEN i % 17 = 0 THEN $1::timestamptz - interval '1 minute' END,
            $1::timestamptz - (i % 900) * interval '1 millisecond', i, 'inst-' || i, 1000,
            'host-' || i, 'svc', '0.1.0',
            jsonb_build_object(
              'a', jsonb_build_object('revision', i % 5 + 1, 'sha256', md5(i::text),
                     'appliedAtMs', i, 'rejectedRevision', CASE WHEN i % 19 = 0 THEN 9 ELSE 0 END,
                     'pendingRevision', 0),
              'b.c', jsonb_build_object('revision', 4, 'sha256', md5('b' || i), 'appliedAtMs', i,
                     'rejectedRevision', 0, 'pendingRevision', CASE WHEN i % 23 = 0 THEN 5 ELSE 0 END),
              'd', jsonb_build_object('revision', 2, 'sha256', md5('d' || i), 'appliedAtMs', i,
                     'rejectedRevision', 0, 'pendingRevision', 0))
       FROM generate_series(1, ${BIG}) i`,
    [new Date(now)],
  );
  const queries = new FleetQueries(fleet, new EventStore(pool), {} as KvConfigReader);
  const app = express().use(fleetRouter(fleet, queries, 60_000));
  await new Promise<void>((r) => (server = app.listen(0, "127.0.0.1", () => r())));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await pool?.end();
  await db?.stop();
});

const list = async (q: NodeListQuery): Promise<unknown[]> =>
  JSON.parse((await fleet.nodesJson(q, now)).json.toString()) as unknown[];

test("the JSON text says what the row-by-row view says, for every filter, compact and full", async () => {
  const all = await fleet.nodes({}, now);
  expect(all).toHaveLength(4 + BIG);
  expect(all.slice(0, 4).map((n) => n.status)).toEqual(["up", "flapping", "up", "unknown"]);
  expect(new Set(all.map((n) => n.status))).toEqual(
    new Set(["up", "down", "left", "flapping", "unknown"]),
  );
  const compact = all.map(compactFleetNode);
  expect(await list({ detail: "full" })).toEqual(all);
  expect(await list({})).toEqual(compact);
  for (const group of ["g1", "g2", "g3", "zz"]) {
    expect(await list({ group, detail: "full" })).toEqual(all.filter((n) => n.group === group));
    expect(await list({ group })).toEqual(compact.filter((n) => n.group === group));
  }
  for (const status of ["up", "down", "left", "flapping", "unknown"] as const) {
    expect(await list({ status })).toEqual(compact.filter((n) => n.status === status));
    expect(await list({ status, group: "g3", detail: "full" })).toEqual(
      all.filter((n) => n.status === status && n.group === "g3"),
    );
  }
});

test("config: revision per key; refused and pending revisions newer than it are flagged", async () => {
  const [a] = await fleet.nodes({ group: "g1", node: "a" }, now);
  expect(a!.configRejected).toEqual({ 'k."q"': 6 });
  expect(a!.configPending).toEqual({ p: 7 });
  expect((await list({ group: "g1" }))[0]).toMatchObject({
    config: { k: 3, 'k."q"': 5, p: 2 },
    configRejected: { 'k."q"': 6 },
    configPending: { p: 7 },
  });
  const g3 = (await list({ group: "g3" })) as { config: unknown; configRejected: unknown }[];
  expect(g3[18]).toMatchObject({ config: { a: 5, "b.c": 4, d: 2 }, configRejected: { a: 9 } });
  expect(g3.filter((n) => Object.keys(n.configRejected as object).length > 0)).toHaveLength(
    Math.floor(BIG / 19),
  );
});

/** Every page of a walk from cursor to cursor, with the keys it returned. */
async function walk(
  q: NodeListQuery,
  limit: number,
): Promise<{ pages: number; nodes: FleetNode[] }> {
  const nodes: FleetNode[] = [];
  let after: NodeKey | undefined;
  let pages = 0;
  for (;;) {
    const page = await fleet.nodesJson({ ...q, detail: "full", limit, after }, now);
    const items = JSON.parse(page.json.toString()) as FleetNode[];
    expect(items.length).toBeLessThanOrEqual(limit);
    nodes.push(...items);
    pages++;
    if (page.next === null) return { pages, nodes };
    expect(items).toHaveLength(limit);
    expect(page.next).toEqual({ group: items[limit - 1]!.group, node: items[limit - 1]!.node });
    after = page.next;
  }
}

test("a walk from cursor to cursor returns every node exactly once, in order", async () => {
  const all = await fleet.nodes({}, now);
  for (const limit of [1, 7, 1000, 2200, BIG + 4, 10_000]) {
    if (limit === 1) {
      const g1 = await walk({ group: "g1" }, 1);
      expect(g1).toEqual({ pages: 3, nodes: all.filter((n) => n.group === "g1") });
      continue;
    }
    const { pages, nodes } = await walk({}, limit);
    expect(nodes).toEqual(all);
    expect(pages).toBe(Math.max(1, Math.ceil(all.length / limit)));
  }
  const up = await walk({ status: "up" }, 700);
  expect(up.nodes).toEqual(all.filter((n) => n.status === "up"));
});

test("a change of anything shown moves the row's version; a beat alone does not", async () => {
  const version = async (node: string): Promise<string> =>
    (
      await sql<{ v: string }>(
        db.url,
        "SELECT version::text AS v FROM node_state WHERE node_id = $1",
        [node],
      )
    )[0]!.v;
  const show = async (): Promise<unknown> => list({ group: "g3", detail: "full" });
  expect(await show()).toEqual(await fleet.nodes({ group: "g3" }, now)); // parts now remembered
  const v0 = await version("n00005");
  // A beat, as the ingest writes it: the version stays, the list shows the new beat.
  await sql(
    db.url,
    "UPDATE node_state SET last_beat_at = $1, last_seq = 999, last_sent_at = $1 WHERE node_id = 'n00005'",
    [new Date(now - 5)],
  );
  expect(await version("n00005")).toBe(v0);
  // Anything shown: status, config, process, by any writer (here by hand).
  await sql(
    db.url,
    "UPDATE node_state SET status = 'down', suspect = true WHERE node_id = 'n00006'",
  );
  await sql(
    db.url,
    `UPDATE node_state SET config = jsonb_set(config, '{a,revision}', '42') WHERE node_id = 'n00007'`,
  );
  await sql(db.url, "UPDATE node_state SET hostname = 'moved' WHERE node_id = 'n00008'");
  await sql(db.url, "UPDATE node_state SET flapping_at = $1 WHERE node_id = 'n00009'", [
    new Date(now - 1),
  ]);
  await sql(db.url, "DELETE FROM node_state WHERE node_id = 'n00010'");
  await sql(
    db.url,
    `INSERT INTO node_state (group_name, node_id, status, last_beat_at, last_seq)
     VALUES ('g3', 'n00010', 'up', $1, 1)`,
    [new Date(now - 7)],
  );
  for (const n of ["n00006", "n00007", "n00008", "n00009"]) expect(await version(n)).not.toBe(v0);
  const after = (await show()) as FleetNode[];
  expect(after).toEqual(await fleet.nodes({ group: "g3" }, now));
  const byNode = new Map(after.map((n) => [n.node, n]));
  expect(byNode.get("n00005")).toMatchObject({ lastSeq: 999, lastBeatAgeMs: 5 });
  expect(byNode.get("n00006")).toMatchObject({ status: "down", suspect: true });
  expect(byNode.get("n00007")!.config.a!.revision).toBe(42);
  expect(byNode.get("n00008")).toMatchObject({ hostname: "moved" });
  expect(byNode.get("n00009")).toMatchObject({ status: "flapping" });
  expect(byNode.get("n00010")).toMatchObject({ lastSeq: 1, config: {}, hostname: null });
  // The flapping mark expires with time alone: the remembered parts do not hold the status.
  const later = JSON.parse(
    (await fleet.nodesJson({ group: "g3" }, now + HOLD + 1000)).json.toString(),
  ) as FleetNode[];
  expect(later.find((n) => n.node === "n00009")!.status).toBe("up");
});

test("served from the cache until asked for a fresh answer; conditional requests get 304", async () => {
  const first = await fetch(`${base}/v1/nodes?group=g2`);
  const body1 = (await first.json()) as { nodes: { status: string }[]; next: string | null };
  expect(body1.nodes.map((n) => n.status)).toEqual(["unknown"]);
  expect(body1.next).toBeNull();
  const etag = first.headers.get("etag");
  expect(first.headers.get("cache-control")).toBe("max-age=60");

  await sql(db.url, "UPDATE node_state SET status = 'up' WHERE node_id = 'd'");
  const cached = await fetch(`${base}/v1/nodes?group=g2`);
  expect(((await cached.json()) as typeof body1).nodes[0]!.status).toBe("unknown");
  expect(Number(cached.headers.get("age"))).toBeGreaterThanOrEqual(0);

  // Not with fetch: it adds Cache-Control: no-cache to conditional requests (fetch spec).
  const status = await new Promise<number | undefined>((resolve, reject) => {
    get(`${base}/v1/nodes?group=g2`, { headers: { "If-None-Match": etag ?? "" } }, (res) => {
      res.resume();
      resolve(res.statusCode);
    }).on("error", reject);
  });
  expect(status).toBe(304);

  const fresh = await fetch(`${base}/v1/nodes?group=g2`, {
    headers: { "Cache-Control": "no-cache" },
  });
  expect(((await fresh.json()) as typeof body1).nodes[0]!.status).toBe("up");
  expect(fresh.headers.get("etag")).not.toBe(etag);
});
