import { ConfigEntry, encodeMessage } from "@konorkestra/proto";
import { ensureConfigBucket } from "@konorkestra/sdk/internal";
import { countRows } from "./count-rows";
import type { FleetSimulator } from "./fleet-simulator";
import { waitFor } from "./wait-for";

export const MIN = 60_000;
export const HOUR = 60 * MIN;
/** Config events publishScenario sends (all of group g1). */
export const SCENARIO_CONFIG_EVENTS = 5;

/**
 * A small fleet with a known history, relative to `t` (the test's "now"):
 * - g1/a: up since t-3h.
 * - g1/b: up since t-30h, down (expiry) t-2h .. t-1h, up again.
 * - g1/c: up since t-5h, clean leave at t-2h (still away).
 * - g1/d: up t-4h, down (suspect) t-3h .. t-170min, up, flapping mark at t-1min.
 * - g2/e: up since t-10h, down (suspect) since t-30min.
 * Config bucket cfg_g1: svc at revisions 1 and 2, db at 3. a runs svc@2 + db@3; b runs svc@1
 * and refused 2; d runs svc@2, lacks db and still reports a deleted key `old`.
 * Config history of g1 (SCENARIO_CONFIG_EVENTS, newest first): the loader rejected a broken
 * svc.yaml at t-20min; b refused svc@2 at t-80min; svc@2 and db@3 were published as change set
 * cs-2 at t-90min (by Ada, commit c2); svc@1 was published at t-5h (by Bob, commit c1).
 */
export async function publishScenario(sim: FleetSimulator, t: number): Promise<void> {
  const ev = (
    g: string,
    n: string,
    k: "up" | "down" | "left" | "flapping",
    at: number,
    suspect = false,
  ) => sim.event(g, n, k, { atMs: at, suspect });
  await ev("g1", "a", "up", t - 3 * HOUR);
  await ev("g1", "b", "up", t - 30 * HOUR);
  await ev("g1", "b", "down", t - 2 * HOUR);
  await ev("g1", "b", "up", t - HOUR);
  await ev("g1", "c", "up", t - 5 * HOUR);
  await ev("g1", "c", "left", t - 2 * HOUR);
  await ev("g1", "d", "up", t - 4 * HOUR);
  await ev("g1", "d", "down", t - 3 * HOUR, true);
  await ev("g1", "d", "up", t - 170 * MIN);
  await ev("g1", "d", "flapping", t - MIN);
  await ev("g2", "e", "up", t - 10 * HOUR);
  await ev("g2", "e", "down", t - 30 * MIN, true);

  const kv = await ensureConfigBucket(sim.nc, sim.names, "g1");
  const entry = (key: string, v: string, author: string, commit: string) =>
    encodeMessage(ConfigEntry, {
      key,
      payload: new TextEncoder().encode(v),
      sha256: `sha-${key}-${v}`,
      gitAuthor: author,
      gitCommit: commit,
      publishedBy: "loader-1",
    });
  const BOB = "Bob <bob@example.org>";
  const ADA = "Ada <ada@example.org>";
  await kv.put("svc", entry("svc", "1", BOB, "c1"));
  await kv.put("svc", entry("svc", "2", ADA, "c2"));
  await kv.put("db", entry("db", "1", ADA, "c2"));
  // The loader writes KV first, then its events (analytics reads the author from KV).
  const published = (key: string, revision: number, at: number, cs: string) =>
    sim.configEvent("g1", "published", {
      key,
      revision,
      sha256: `sha-${key}-${key === "svc" ? revision : 1}`,
      changeSetId: cs,
      sourcePath: `g1/${key}.yaml`,
      atMs: at,
    });
  await published("svc", 1, t - 5 * HOUR, "cs-1");
  await published("svc", 2, t - 90 * MIN, "cs-2");
  await published("db", 3, t - 90 * MIN, "cs-2");
  await sim.configEvent("g1", "rejected", {
    key: "svc",
    revision: 2,
    sha256: "sha-svc-2",
    changeSetId: "cs-2",
    sourcePath: "g1/svc.yaml",
    nodeId: "b",
    error: { reason: "Expected number, received string", code: "schema", valuePath: "/port" },
    atMs: t - 80 * MIN,
  });
  await sim.configEvent("g1", "rejected", {
    key: "svc",
    sourcePath: "g1/svc.yaml",
    error: {
      file: "g1/svc.yaml",
      line: 3,
      column: 7,
      reason: "bad indentation of a mapping entry",
      code: "syntax",
    },
    atMs: t - 20 * MIN,
  });

  for (let seq = 1; seq <= 10; seq++) {
    const sentAtMs = Date.now() - 20; // at least 20 ms transport latency
    await sim.heartbeat("g1", "a", {
      seq,
      sentAtMs,
      config: { svc: { revision: 2 }, db: { revision: 3 } },
    });
    await sim.heartbeat("g1", "b", {
      seq,
      sentAtMs,
      config: { svc: { revision: 1, rejectedRevision: 2 } },
    });
    await sim.heartbeat("g1", "d", {
      seq,
      sentAtMs,
      config: { svc: { revision: 2 }, old: { revision: 1 } },
    });
  }
}

/** Waits until an analytics instance has stored everything {@link publishScenario} sent. */
export async function waitForScenario(dbUrl: string): Promise<void> {
  await waitFor(
    "30 heartbeats",
    async () => (await countRows(dbUrl, "heartbeats", "stream_seq")).rows === 30,
  );
  await waitFor(
    "12 events",
    async () => (await countRows(dbUrl, "node_events", "event_id")).rows === 12,
  );
  await waitFor(
    "config events",
    async () =>
      (await countRows(dbUrl, "config_events", "event_id")).rows === SCENARIO_CONFIG_EVENTS,
  );
}
