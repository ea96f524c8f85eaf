// `kon nodes` and `kon events` against a real liveness monitor and analytics (NATS, PostgreSQL +
// TimescaleDB), with nodes beating on the wire as the SDK does: golden table, --json shapes,
// --watch and --follow as JSON lines, a node's down and up seen end to end.
import { PassThrough, Writable } from "node:stream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { createAnalytics } from "@konorkestra/analytics";
import type { AnalyticsService } from "@konorkestra/analytics";
import { sharedTestTokens, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { z } from "zod";

import { NodeSimulator } from "../../heartbeat/test/helpers/node-simulator";
import { createMonitor } from "../../heartbeat/src/monitor";
import type { Monitor } from "../../heartbeat/src/monitor";
import { ExitCode } from "../src/exit-codes";
import { runCli } from "../src/program";
import { CliRunner } from "./helpers/cli-runner";
import type { CliRun } from "./helpers/cli-runner";

let nats: NatsServer;
let db: PostgresDatabase;
let monitor: Monitor;
let analytics: AnalyticsService;
let nc: NatsConnection;
let sim: NodeSimulator;
let kon: CliRunner;

const nodeSchema = z.looseObject({
  group: z.string(),
  node: z.string(),
  status: z.enum(["up", "down", "left", "unknown"]),
  lastHeartbeatAtMs: z.number(),
  ageMs: z.number(),
  intervalMs: z.number(),
  config: z.record(z.string(), z.looseObject({ revision: z.number() })),
});
const nodesSchema = z.looseObject({
  monitorId: z.string(),
  asOfMs: z.number(),
  count: z.number(),
  nodes: z.array(nodeSchema),
});
const eventSchema = z.strictObject({
  id: z.string(),
  atMs: z.number(),
  kind: z.string().regex(/^(node|config)\.[a-z]+$/),
  group: z.string(),
  node: z.string().nullable(),
  key: z.string().nullable(),
  revision: z.number().nullable(),
  detail: z.string(),
});
const eventsSchema = z.strictObject({ fromMs: z.number(), events: z.array(eventSchema) });

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  const tokens = sharedTestTokens();
  [monitor, analytics] = await Promise.all([
    createMonitor(
      { ...nats.serviceOptions("monitor"), port: 0, authPublicKeyFile: tokens.publicKeyFile },
      { logger: silentLogger },
    ),
    createAnalytics({
      ...nats.serviceOptions("analytics"),
      authPublicKeyFile: tokens.publicKeyFile,
      pgUrl: db.url,
      port: 0,
      logger: silentLogger,
    }),
  ]);
  nc = await connect(nats.clientOptions());
  sim = new NodeSimulator(nc, { group: "payments", intervalMs: 1000, misses: 2 });
  sim.start(["web-1", "web-2"]);
  kon = new CliRunner({
    KON_MONITOR_URL: monitor.url,
    KON_ANALYTICS_URL: analytics.url,
    KON_API_TOKEN: tokens.mint(["read"]),
  });
});
afterAll(async () => {
  sim?.close();
  await nc?.close();
  await monitor?.close();
  await analytics?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
  kon?.cleanup();
});

/** Runs `args` until `ok` holds for its result (services need a moment to see things). */
async function until(args: string[], ok: (r: CliRun) => boolean, ms = 10_000): Promise<CliRun> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await kon.run(args);
    if (ok(r) || Date.now() > end) return r;
    await new Promise((res) => setTimeout(res, 200));
  }
}

test("nodes: both nodes up, as a golden table and as JSON", async () => {
  const listed = await until(
    ["--json", "nodes", "--group", "payments"],
    (r) => r.code === 0 && nodesSchema.parse(JSON.parse(r.stdout)).count === 2,
  );
  expect(listed.code).toBe(0);
  const a = nodesSchema.parse(JSON.parse(listed.stdout));
  expect(a.nodes.map((n) => [n.node, n.status])).toEqual([
    ["web-1", "up"],
    ["web-2", "up"],
  ]);
  const table = await kon.run(["nodes"]);
  const lines = table.stdout.replace(/\b\d+(ms|s) ago/g, "<age> ago").split("\n");
  expect(lines[0]).toBe("GROUP     NODE   STATUS  LAST BEAT  INTERVAL  CONFIG");
  expect(lines.slice(1).map((l) => l.replace(/\s+/g, " "))).toEqual([
    "payments web-1 up <age> ago 1s svc@7",
    "payments web-2 up <age> ago 1s svc@7",
    "",
  ]);
  expect((await kon.run(["-q", "nodes"])).stdout).toBe("payments.web-1\npayments.web-2\n");
});

test("nodes --watch --json prints one document per refresh", async () => {
  const r = await kon.run(["--json", "nodes", "--watch", "--interval", "100ms", "--count", "3"]);
  expect(r.code).toBe(0);
  const docs = r.stdout
    .trim()
    .split("\n")
    .map((l) => nodesSchema.parse(JSON.parse(l)));
  expect(docs).toHaveLength(3);
  expect(docs[2]!.asOfMs).toBeGreaterThan(docs[0]!.asOfMs);
});

test("--interval under 100ms is a usage error (2), not a loop hammering the monitor", async () => {
  for (const args of [
    ["nodes", "--watch", "--interval", "0"],
    ["events", "--follow", "--interval", "10ms"],
  ]) {
    const r = await kon.run(args);
    expect(r.code).toBe(ExitCode.Usage);
    expect(r.stderr).toMatch(
      /^kon: --interval: "(0|10ms)" is too short\nhint: poll at most every 100ms/,
    );
  }
});

test("events --since before 1970 is a usage error (2), not an analytics 400", async () => {
  const r = await kon.run(["events", "--since", "100000d"]);
  expect(r.code).toBe(ExitCode.Usage);
  expect(r.stderr).toMatch(/^kon: --since 100000d reaches back before 1970\n/);
});

test("nodes --watch into a reader that went away (EPIPE) ends quietly with 0", async () => {
  let writes = 0;
  const stdout = new Writable({
    write(_chunk, _enc, cb) {
      writes++;
      const e: NodeJS.ErrnoException = new Error("write EPIPE");
      e.code = "EPIPE";
      cb(writes > 1 ? e : null);
    },
  });
  const stderr = new PassThrough();
  const err: Buffer[] = [];
  stderr.on("data", (c: Buffer) => err.push(c));
  const code = await runCli(["node", "kon", "--json", "nodes", "--watch", "--interval", "100ms"], {
    stdout,
    stderr,
    env: { ...kon.baseEnv, XDG_CONFIG_HOME: kon.configDir, HOME: kon.configDir },
  });
  expect(code).toBe(ExitCode.Ok);
  expect(writes).toBe(2);
  expect(Buffer.concat(err).toString()).toBe("");
});

test("a node that stops is down in nodes, then node.down and node.up in events", async () => {
  sim.stop("web-2");
  const down = await until(["--json", "nodes"], (r) =>
    nodesSchema
      .parse(JSON.parse(r.stdout))
      .nodes.some((n) => n.node === "web-2" && n.status === "down"),
  );
  expect(down.code).toBe(0);
  const withDown = await until(
    ["--json", "events", "--group", "payments"],
    (r) => r.code === 0 && r.stdout.includes('"node.down"'),
  );
  const e = eventsSchema.parse(JSON.parse(withDown.stdout));
  expect(e.events.find((x) => x.kind === "node.down")).toMatchObject({
    group: "payments",
    node: "web-2",
  });
  sim.resume("web-2");
  await until(["--json", "events"], (r) => r.stdout.includes('"node.up"'));
  const follow = await kon.run([
    "--json",
    "events",
    "--follow",
    "--interval",
    "100ms",
    "--count",
    "2",
  ]);
  expect(follow.code).toBe(0);
  const streamed = follow.stdout
    .trim()
    .split("\n")
    .map((l) => eventSchema.parse(JSON.parse(l)));
  // Each event once, though the second poll asked for the same minute again.
  expect(streamed.map((x) => `${x.kind} ${x.node}`)).toEqual(["node.down web-2", "node.up web-2"]);
  const human = await kon.run(["events"]);
  expect(human.stdout).toMatch(
    /^TIME\s+KIND\s+GROUP\s+NODE\/KEY\s+REV\s+DETAIL\n.*node\.down\s+payments\s+web-2\s+-\s+expiry\n.*node\.up\s+payments\s+web-2/,
  );
});

test("status: monitor and analytics healthy, ingest lag per stream; admin and loader unreachable", async () => {
  const r = await kon.run(["--json", "status"], {
    env: {
      KON_ADMIN_URL: "http://127.0.0.1:1",
      KON_LOADER_URL: "http://127.0.0.1:1",
      KON_SERVERS: nats.url,
    },
  });
  expect(r.code).toBe(ExitCode.Unreachable);
  const s = z
    .looseObject({
      components: z.array(
        z.looseObject({ component: z.string(), state: z.string(), detail: z.string() }),
      ),
      lag: z.record(z.string(), z.number().int().min(0)),
    })
    .parse(JSON.parse(r.stdout));
  const state = Object.fromEntries(s.components.map((c) => [c.component, c.state]));
  expect(state).toEqual({
    admin: "unreachable",
    loader: "unreachable",
    monitor: "ok",
    analytics: "ok",
    nats: "ok",
  });
  expect(Object.keys(s.lag).length).toBeGreaterThan(0);
  expect(s.components.find((c) => c.component === "analytics")!.detail).toMatch(
    /postgres ok, nats ok.*; lag /,
  );
  // The monitor's `blind: false` is good news: not shown as a failure.
  expect(s.components.find((c) => c.component === "monitor")!.detail).not.toContain("FAIL");
});

test("without a read token both APIs refuse (4)", async () => {
  const r = await kon.run(["nodes"], { env: { KON_API_TOKEN: "" } });
  expect(r.code).toBe(ExitCode.Refused);
  expect(r.stderr).toContain("monitor API GET /v1/nodes → 401");
  const e = await kon.run(["events"], { env: { KON_API_TOKEN: "" } });
  expect(e.code).toBe(ExitCode.Refused);
});
