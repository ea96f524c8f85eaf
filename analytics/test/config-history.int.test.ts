import { ConfigEvent, encodeMessage } from "@konorkestra/proto";
import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsRuntimeOptions, AnalyticsService } from "../src";
import type { ConfigChange } from "../src/model/config-change";
import { countRows, sql } from "./helpers/count-rows";
import { HOUR, MIN, SCENARIO_CONFIG_EVENTS, publishScenario } from "./helpers/fleet-scenario";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { getJson } from "./helpers/get-json";
import { waitFor } from "./helpers/wait-for";
import { testAuth } from "./helpers/test-auth";

// Config events (kon.evt.<group>.config.<kind>) into config_events through the analytics-cfg
// durable consumer, and the history endpoints, against real NATS and TimescaleDB.

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;
let T: number;
const extra: AnalyticsService[] = [];

async function analytics(o: AnalyticsRuntimeOptions = {}): Promise<AnalyticsService> {
  return createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchRows: 20,
    batchMs: 50,
    maintenanceIntervalMs: 3_600_000,
    logger: silentLogger,
    ...o,
  });
}

const configRows = () => countRows(db.url, "config_events", "event_id");

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  sim = await FleetSimulator.connect(nats.clientOptions());
  svc = await analytics();
  T = Date.now();
  await publishScenario(sim, T);
  await waitFor(
    "scenario config events",
    async () => (await configRows()).rows === SCENARIO_CONFIG_EVENTS,
  );
});

afterEach(async () => {
  while (extra.length > 0) await extra.pop()!.close();
});

afterAll(async () => {
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

const get = <T = Record<string, unknown>>(path: string) => getJson<T>(svc.url, path);
type History = { truncated: boolean; limit: number; changes: ConfigChange[] };

describe("ingest", () => {
  test("every config event is one row; author and commit of a published revision come from KV", async () => {
    const rows = await sql<Record<string, unknown>>(
      db.url,
      `SELECT key, kind, revision::int, node_id, change_set_id, git_author, git_commit,
              published_by, error_line, error_column, error_code, error_reason, error_value_path
         FROM config_events WHERE group_name = 'g1' ORDER BY time, stream_seq`,
    );
    expect(rows).toEqual([
      row("svc", "published", 1, "", "cs-1", "Bob <bob@example.org>", "c1"),
      row("svc", "published", 2, "", "cs-2", "Ada <ada@example.org>", "c2"),
      row("db", "published", 3, "", "cs-2", "Ada <ada@example.org>", "c2"),
      {
        ...row("svc", "rejected", 2, "b", "cs-2", null, null),
        published_by: null,
        error_code: "schema",
        error_reason: "Expected number, received string",
        error_value_path: "/port",
      },
      {
        ...row("svc", "rejected", null, "", "", null, null),
        published_by: null,
        error_line: 3,
        error_column: 7,
        error_code: "syntax",
        error_reason: "bad indentation of a mapping entry",
        error_value_path: "",
      },
    ]);
  });

  test("the same event stored twice in the stream (past its duplicate window) is one row", async () => {
    const before = await configRows();
    const bytes = encodeMessage(ConfigEvent, {
      eventId: "cfg-twice",
      group: "g7",
      key: "k",
      kind: ConfigEvent.Kind.PUBLISHED,
      revision: 4,
      atMs: T,
    });
    const subject = sim.names.eventSubject("g7", "config.published");
    // No Nats-Msg-Id: the stream keeps both copies, as it would for a retry after the window.
    await sim.raw(subject, bytes);
    await sim.raw(subject, bytes);
    await sim.configEvent("g7", "applied", { key: "k", revision: 4, nodeId: "n1", atMs: T + 1 });
    await waitFor("applied event", async () => (await configRows()).rows === before.rows + 2);
    await waitFor("lag drained", () => lagOf(svc).then((l) => l === 0));
    expect(await configRows()).toEqual({ rows: before.rows + 2, distinct: before.distinct + 2 });
    // De-duplicated by the key, not turned into a reject.
    expect(await sql(db.url, "SELECT 1 FROM ingest_rejects")).toEqual([]);
  });

  test("a fresh durable replaying the whole stream adds no row", async () => {
    const before = await configRows();
    const replay = await analytics({
      heartbeatConsumer: "replay-hb",
      eventConsumer: "replay-evt",
      configConsumer: "replay-cfg",
    });
    extra.push(replay);
    const cfg = replay.ingesters.find((i) => i.status().kind === "config-events")!;
    await waitFor("replay lag drained", () => lagOf(replay).then((l) => l === 0));
    // Every config message so far: one row each, plus the one stored twice above.
    expect(cfg.status().messagesTotal).toBe(before.rows + 1);
    expect(cfg.status().rowsTotal).toBe(0);
    expect(await configRows()).toEqual(before);
    expect(await sql(db.url, "SELECT 1 FROM ingest_rejects")).toEqual([]); // skipped, not refused
  });

  test("two instances share analytics-cfg: every event is stored exactly once", async () => {
    const second = await analytics();
    extra.push(second);
    const before = await configRows();
    const rows = (i: AnalyticsService) =>
      i.ingesters.find((x) => x.status().kind === "config-events")!.status().rowsTotal;
    const svcBefore = rows(svc);
    await Promise.all(
      Array.from({ length: 4 }, async (_, w) => {
        for (let i = 1; i <= 25; i++) {
          await sim.configEvent("g8", "published", { key: `k${w}`, revision: i, atMs: T + i });
        }
      }),
    );
    await waitFor("100 more rows", async () => (await configRows()).rows === before.rows + 100);
    await waitFor("both drained", () =>
      Promise.all([lagOf(svc), lagOf(second)]).then((l) => l.every((x) => x === 0)),
    );
    expect(rows(svc) - svcBefore + rows(second)).toBe(100);
    expect(await configRows()).toEqual({
      rows: before.rows + 100,
      distinct: before.distinct + 100,
    });
  });

  test("an undecodable message or an unknown kind goes to ingest_rejects and does not stall the stream", async () => {
    const bad = await sim.raw(
      sim.names.eventSubject("g9", "config.published"),
      Uint8Array.from([0xff, 0xff, 0xff, 0x01]),
    );
    // A kind this version does not know (a newer publisher), on the subject or only in the
    // payload: kept, not silently dropped.
    const future = (eventId: string) =>
      ConfigEvent.encode({ eventId, group: "g9", key: "k", kind: 42 as ConfigEvent.Kind }).finish();
    const futureSubject = await sim.raw(
      `${sim.names.prefix}.evt.g9.config.rolled_back`,
      future("future-1"),
    );
    const futurePayload = await sim.raw(
      sim.names.eventSubject("g9", "config.published"),
      future("future-2"),
    );
    // Group and kind come from the subject: a payload that names another group is refused.
    const otherGroup = await sim.raw(
      sim.names.eventSubject("g9", "config.deleted"),
      encodeMessage(ConfigEvent, {
        eventId: "other-group",
        group: "g10",
        key: "k",
        kind: ConfigEvent.Kind.DELETED,
      }),
    );
    await sim.configEvent("g9", "deleted", { key: "k", revision: 9, atMs: T });
    await waitFor(
      "the good event after them",
      async () => (await sql(db.url, "SELECT 1 FROM config_events WHERE group_name = 'g9'")).length,
    );
    const rejects = await sql<{ stream_seq: string; reason: string }>(
      db.url,
      "SELECT stream_seq, reason FROM ingest_rejects WHERE stream = 'config-events' ORDER BY 1",
    );
    expect(rejects.map((r) => Number(r.stream_seq))).toEqual([
      bad,
      futureSubject,
      futurePayload,
      otherGroup,
    ]);
    expect(rejects.map((r) => r.reason)).toEqual([
      expect.stringMatching(/ConfigEvent/),
      expect.stringMatching(/invalid config event subject kon\.evt\.g9\.config\.rolled_back/),
      expect.stringMatching(/unknown kind 42/),
      expect.stringMatching(/payload names group g10, subject kon\.evt\.g9\.config\.deleted/),
    ]);
  });
});

describe("API", () => {
  test("/v1/config/history lists a group's changes and rejections, newest first", async () => {
    const { status, body } = await get<History>("/v1/config/history?group=g1");
    expect(status).toBe(200);
    expect(body.truncated).toBe(false);
    expect(body.changes.map((c) => [c.kind, c.key, c.revision, c.atMs])).toEqual([
      ["rejected", "svc", null, T - 20 * MIN],
      ["rejected", "svc", 2, T - 80 * MIN],
      ["published", "db", 3, T - 90 * MIN], // same time as svc@2: later in the stream first
      ["published", "svc", 2, T - 90 * MIN],
      ["published", "svc", 1, T - 5 * HOUR],
    ]);
    expect(body.changes[3]).toMatchObject({
      group: "g1",
      sha256: "sha-svc-2",
      changeSetId: "cs-2",
      sourcePath: "g1/svc.yaml",
      nodeId: null,
      author: "Ada <ada@example.org>",
      gitCommit: "c2",
      publishedBy: "loader-1",
      error: null,
    });
    expect(body.changes[0]!.error).toEqual({
      file: "g1/svc.yaml",
      line: 3,
      column: 7,
      reason: "bad indentation of a mapping entry",
      code: "syntax",
      valuePath: null,
    });
    expect(body.changes[1]).toMatchObject({
      nodeId: "b",
      author: null,
      error: { code: "schema", valuePath: "/port", line: null },
    });
  });

  test.each([
    ["key=db", [["published", "db"]]],
    [
      "kind=published&key=svc",
      [
        ["published", "svc"],
        ["published", "svc"],
      ],
    ],
    ["kind=rejected,published&node=b", [["rejected", "svc"]]],
    ["key=svc&limit=1", [["rejected", "svc"]]],
  ])("/v1/config/history?group=g1&%s filters", async (query, expected) => {
    const { body } = await get<History>(`/v1/config/history?group=g1&${query}`);
    expect(body.changes.map((c) => [c.kind, c.key])).toEqual(expected);
  });

  test("/v1/config/history: from/to bound the time, limit cuts and says so", async () => {
    const from = new Date(T - 2 * HOUR).toISOString();
    const windowed = await get<History>(
      `/v1/config/history?group=g1&from=${from}&to=${T - 30 * MIN}`,
    );
    expect(windowed.body.changes.map((c) => c.atMs)).toEqual([
      T - 80 * MIN,
      T - 90 * MIN,
      T - 90 * MIN,
    ]);
    const cut = await get<History>("/v1/config/history?group=g1&limit=2");
    expect(cut.body).toMatchObject({ limit: 2, truncated: true });
    expect(cut.body.changes).toHaveLength(2);
    const all = await get<History>("/v1/config/history");
    expect(all.body).toMatchObject({ limit: 100, truncated: true });
    expect(all.body.changes).toHaveLength(100);
  });

  test("/v1/config/rejections lists what the loader and the nodes refused, and why", async () => {
    const { status, body } = await get<History>("/v1/config/rejections?group=g1");
    expect(status).toBe(200);
    expect(body.changes.map((c) => [c.nodeId, c.error?.reason])).toEqual([
      [null, "bad indentation of a mapping entry"],
      ["b", "Expected number, received string"],
    ]);
    const byNode = await get<History>("/v1/config/rejections?node=b");
    expect(byNode.body.changes).toHaveLength(1);
    const none = await get<History>(`/v1/config/rejections?group=g1&to=${T - 6 * HOUR}`);
    expect(none.body.changes).toEqual([]);
  });

  test.each([
    ["/v1/config/history?kind=oops", /kind: "oops" is not a config event kind; use one or more/],
    ["/v1/config/history?kind=published,", /kind: "" is not a config event kind/],
    ["/v1/config/history?limit=0", /limit: at least 1/],
    ["/v1/config/history?limit=5000", /limit: at most 1000/],
    ["/v1/config/history?limit=ten", /limit: must be a whole number/],
    ["/v1/config/history?key=a..b", /key: .*empty segment/],
    ["/v1/config/history?group=G!", /group/],
    ["/v1/config/history?node=a.b", /node/],
    ["/v1/config/history?from=soon", /from: "soon" is not an ISO 8601 time/],
    ["/v1/config/history?from=2000&to=1000", /from: must not be after to/],
    ["/v1/config/history?grup=g1", /grup/],
    ["/v1/config/rejections?kind=published", /kind/],
  ])("bad input %s is a 400 with a clear message", async (path, message) => {
    const { status, body } = await get<{ error: { code: string; message: string } }>(path);
    expect(status).toBe(400);
    expect(body.error.code).toBe("QUERY_INVALID");
    expect(body.error.message).toMatch(message);
  });
});

function row(
  key: string,
  kind: string,
  revision: number | null,
  node: string,
  cs: string,
  author: string | null,
  commit: string | null,
): Record<string, unknown> {
  return {
    key,
    kind,
    revision,
    node_id: node,
    change_set_id: cs,
    git_author: author,
    git_commit: commit,
    published_by: author ? "loader-1" : null,
    error_line: null,
    error_column: null,
    error_code: null,
    error_reason: null,
    error_value_path: null,
  };
}

async function lagOf(s: AnalyticsService): Promise<number> {
  const cfg = s.ingesters.find((i) => i.status().kind === "config-events")!;
  const l = await cfg.lag();
  return l.pending + l.ackPending;
}
