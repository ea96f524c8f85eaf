import { get } from "node:http";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startPostgres } from "@konorkestra/testkit";
import type { PostgresDatabase } from "@konorkestra/testkit";
import express from "express";
import { Pool } from "pg";
import { FleetQueries } from "../src/domain/fleet-queries";
import { fleetRouter } from "../src/http/fleet-router";
import { copyJsonArray } from "../src/store/copy-json-array";
import { EventStore } from "../src/store/event-store";
import { FleetStore } from "../src/store/fleet-store";
import type { KvConfigReader } from "../src/store/kv-config-reader";
import { sql } from "./helpers/count-rows";

// /v1/nodes is built as JSON text straight from PostgreSQL's output; it must say exactly what
// the row-by-row view (FleetStore.nodes, used by drift and the tests of the API) says.

let db: PostgresDatabase;
let pool: Pool;
let fleet: FleetStore;
let server: Server;
let base: string;
const HOLD = 600_000;
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
      '{"k": {"revision": 3, "sha256": "ab", "appliedAtMs": 7}}'),
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

test("the JSON text says what the row-by-row view says, for every filter", async () => {
  const all = await fleet.nodes({}, now);
  expect(all.map((n) => n.status)).toEqual(["up", "flapping", "up", "unknown"]);
  expect(JSON.parse((await fleet.nodesJson({}, now)).toString())).toEqual(all);
  for (const group of ["g1", "g2", "zz"]) {
    expect(JSON.parse((await fleet.nodesJson({ group }, now)).toString())).toEqual(
      all.filter((n) => n.group === group),
    );
  }
  for (const status of ["up", "down", "left", "flapping", "unknown"] as const) {
    expect(JSON.parse((await fleet.nodesJson({ status }, now)).toString())).toEqual(
      all.filter((n) => n.status === status),
    );
  }
});

test("COPY output is joined across chunk boundaries, byte for byte", async () => {
  const client = await pool.connect();
  try {
    const buf = await copyJsonArray(
      client,
      `SELECT json_build_object('i', g, 's', repeat('é"', g % 40))::text
         FROM generate_series(1, 20000) g ORDER BY g`,
    );
    const items = JSON.parse(buf.toString()) as { i: number; s: string }[];
    expect(items).toHaveLength(20000);
    expect(items.every((it, k) => it.i === k + 1 && it.s === 'é"'.repeat((k + 1) % 40))).toBe(true);
    expect((await copyJsonArray(client, "SELECT '1' WHERE false")).toString()).toBe("[]");
  } finally {
    client.release();
  }
});

test("served from the cache until asked for a fresh answer; conditional requests get 304", async () => {
  const first = await fetch(`${base}/v1/nodes?group=g2`);
  const body1 = (await first.json()) as { nodes: { status: string }[] };
  expect(body1.nodes.map((n) => n.status)).toEqual(["unknown"]);
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
