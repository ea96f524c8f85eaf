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
