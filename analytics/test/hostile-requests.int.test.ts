import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { sql } from "./helpers/count-rows";
import { readAuth, testAuth } from "./helpers/test-auth";

// Reproductions of issue 11 item 6 (analytics) and issue 10 item 5 (no secret in error bodies,
// /metrics or /healthz): each answered 500 with PostgreSQL's text before the fix.

const PG_PASSWORD = "pg-Secret-4711";
let nats: NatsServer;
let db: PostgresDatabase;
let svc: AnalyticsService;
let pgUrl: string;

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  const u = new URL(db.url);
  u.password = PG_PASSWORD; // the test server trusts local users: the password is carried, unused
  pgUrl = u.toString();
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl,
    port: 0,
    maintenanceIntervalMs: 3_600_000,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await svc?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

async function get(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(svc.url + path, { headers: readAuth() });
  return { status: res.status, text: await res.text() };
}

/** Words of PostgreSQL's error texts that must never reach a client. */
const PG_TEXT = /out of range|invalid byte sequence|0x00|relation|does not exist|syntax|SQLSTATE/i;

const cursorOf = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString("base64url");

test.each([
  ["/v1/incidents?to=99999999999999999999", /query parameter to: .* is outside 1970-01-01/],
  ["/v1/incidents?from=99999999999999999999", /query parameter from: .* is outside/],
  ["/v1/incidents?from=-271821-04-20T00:00:00Z", /query parameter from: .*(not an ISO|outside)/],
  ["/v1/incidents?to=%2B275760-09-13T00:00:00Z", /query parameter to: .* is outside/],
  ["/v1/incidents?to=+275760-09-13T00:00:00Z", /query parameter to: /],
  ["/v1/series/heartbeats?to=99999999999999999999", /query parameter to: .* is outside/],
  ["/v1/nodes/g1/a/timeline?from=99999999999999999999", /query parameter from: .* is outside/],
  ["/v1/config/history?to=99999999999999999999", /query parameter to: .* is outside/],
  ["/v1/config/rejections?from=-271821-04-20T00:00:00Z", /query parameter from: /],
  [`/v1/nodes?cursor=${cursorOf(["g1\u0000", "a"])}`, /query parameter cursor: not a cursor/],
  [`/v1/nodes?cursor=${cursorOf(["g1", "a\u0000"])}`, /query parameter cursor: not a cursor/],
  [`/v1/nodes?cursor=${cursorOf(["G1", "a"])}`, /query parameter cursor: not a cursor/],
  [`/v1/nodes?cursor=${cursorOf(["g1", "a.b"])}`, /query parameter cursor: not a cursor/],
])("%s is a clear 400 without database text", async (path, message) => {
  const { status, text } = await get(path);
  expect({ status, text }).toMatchObject({ status: 400 });
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("QUERY_INVALID");
  expect(body.error.message).toMatch(message);
  expect(body.error.message).not.toMatch(PG_TEXT);
});

// The page-scoped endpoints take a /v1/nodes page's parameters (issue 14 item 4): every hostile
// form of them is a 400 that names the parameter, never a 500 or a database error.
const PAGE_ENDPOINTS = ["/v1/uptime", "/v1/config/drift/summary"] as const;
/** [name in the test's title, query string, expected message]. */
const HOSTILE_PAGE_PARAMS: [string, string, RegExp][] = [
  ["limit 0", "limit=0", /query parameter limit: at least 1$/],
  ["limit 1001", "limit=1001", /query parameter limit: at most 1000$/],
  ["limit 10^20", "limit=99999999999999999999", /query parameter limit: at most 1000$/],
  ["negative limit", "limit=-5", /query parameter limit: must be a whole number/],
  ["limit 1e3", "limit=1e3", /query parameter limit: must be a whole number/],
  ["fullwidth digit", "limit=%EF%BC%91", /query parameter limit: must be a whole number/],
  ["cursor !!!", "cursor=!!!", /query parameter cursor: not a cursor/],
  ["10 kB cursor", "cursor=" + "A".repeat(10_000), /query parameter cursor: not a cursor/],
  ["non-JSON cursor", `cursor=${Buffer.from("not json").toString("base64url")}`, /cursor: not a/],
  ["object cursor", `cursor=${cursorOf({ group: "g1", node: "a" })}`, /cursor: not a cursor/],
  ["3-tuple cursor", `cursor=${cursorOf(["g1", "a", "extra"])}`, /cursor: not a cursor/],
  ["NUL in cursor", `cursor=${cursorOf(["g1\u0000", "a"])}`, /cursor: not a cursor/],
  ["empty cursor", "cursor=", /query parameter cursor: not a cursor/],
  ["non-UTF-8 group", "group=%FF%FE", /query parameter group: use 1-63 of/],
  ["NUL in group", "group=g%00", /query parameter group: use 1-63 of/],
  ["64-char group", "group=" + "g".repeat(64), /query parameter group: use 1-63 of/],
  ["unknown status", "status=zombie", /query parameter status: /],
  ["unknown parameter", "grup=g1", /unrecognized key.*grup/i],
  ["__proto__", "__proto__=1", /unrecognized key.*__proto__/i],
  ["repeated group", "group=g1&group=g2", /query parameter group: given more than once/],
  ["repeated cursor", "cursor=a&cursor=b", /query parameter cursor: given more than once/],
  ["repeated status", "status=up&status=down", /query parameter status: given more than once/],
  ["repeated limit", "limit=10&limit=20", /query parameter limit: given more than once/],
];

test.each([
  ...PAGE_ENDPOINTS.flatMap((e) =>
    HOSTILE_PAGE_PARAMS.map(([name, q, m]): [string, string, RegExp] => [
      `${e} ${name}`,
      // /v1/uptime needs a limit: given unless the case is about the limit
      `${e}?${e === "/v1/uptime" && !q.includes("limit=") ? "limit=10&" : ""}${q}`,
      m,
    ]),
  ),
  ["/v1/uptime without limit", "/v1/uptime", /^query parameter 'limit' is required$/],
  [
    "/v1/rollouts without group",
    "/v1/rollouts?key=service1",
    /^query parameter 'group' is required$/,
  ],
  [
    "a 5,000-character node id",
    `/v1/nodes/g1/${"x".repeat(5000)}`,
    /^invalid path parameter node: invalid node id "x{40}"… \(5000 characters\): length must be/,
  ],
  ["/v1/uptime window 1y", "/v1/uptime?limit=10&window=1y", /query parameter window: /],
  [
    "/v1/uptime repeated window",
    "/v1/uptime?limit=10&window=24h&window=7d",
    /query parameter window: given more than once/,
  ],
])("%s is a clear 400", async (_name, path, message) => {
  const { status, text } = await get(path);
  expect({ path, status }).toEqual({ path, status: 400 });
  const body = JSON.parse(text) as { error: { code: string; message: string } };
  expect(body.error.code).toBe("QUERY_INVALID");
  expect(body.error.message).toMatch(message);
  expect(body.error.message).not.toMatch(PG_TEXT);
  expect(body.error.message.length).toBeLessThan(300); // a 10 kB cursor is not echoed back
});

test("the page endpoints' largest page and a valid cursor are accepted", async () => {
  const cursor = cursorOf(["g1", "a"]);
  for (const path of [
    "/v1/uptime?limit=1000",
    `/v1/uptime?limit=1&cursor=${cursor}&group=g1&status=up&window=7d`,
    "/v1/config/drift/summary",
    `/v1/config/drift/summary?limit=1000&cursor=${cursor}&status=flapping`,
  ]) {
    expect({ path, status: (await get(path)).status }).toEqual({ path, status: 200 });
  }
});

test("a time at the edges of the window is accepted", async () => {
  expect((await get("/v1/incidents?from=0&to=1000")).status).toBe(200);
  expect(
    (await get("/v1/incidents?from=2099-12-01T00:00:00Z&to=2099-12-31T00:00:00Z")).status,
  ).toBe(200);
});

test("a 500 names no table, no SQL text and no credentials; the cause goes to the log", async () => {
  await sql(db.url, "ALTER TABLE config_events RENAME TO config_events_away");
  try {
    const { status, text } = await get("/v1/config/history");
    expect(status).toBe(500);
    const body = JSON.parse(text) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("INTERNAL");
    expect(body.error.message).toMatch(/error id [0-9a-f-]{36}/);
    expect(body.error.message).toMatch(/PostgreSQL error 42P01/);
    expect(text).not.toMatch(/config_events|relation|does not exist/);
    expect(text).not.toContain(PG_PASSWORD);
  } finally {
    await sql(db.url, "ALTER TABLE config_events_away RENAME TO config_events");
  }
});

test("/healthz, /metrics and /v1/pipeline carry no password, user:password@ or token", async () => {
  const secrets = [PG_PASSWORD, nats.clientOptions().pass, `${nats.clientOptions().user}:`];
  for (const path of ["/healthz", "/metrics", "/v1/pipeline"]) {
    const { status, text } = await get(path);
    expect(status).toBe(200);
    for (const s of secrets) expect(text).not.toContain(s);
    expect(text).not.toMatch(/:\/\/[^/\s"]*:[^/\s"]*@/);
  }
});
