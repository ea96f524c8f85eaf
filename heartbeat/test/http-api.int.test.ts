import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import type { NodeSummary } from "../src/http/nodes-router";
import { eventsOf, waitForEvents } from "./helpers/node-events";
import { JoinKeyStandIn } from "./helpers/join-key-stand-in";

/** Join keys the admin stand-in knows: TOKEN admits to `cron`, the other to `elsewhere`. */
const TOKEN = "CRON-JOIN-KEY-0123456789";
const ELSEWHERE_KEY = "ELSEWHERE-JOIN-KEY-0123";
const SHA = "b".repeat(64);

interface ErrorBody {
  error: { code: string; message: string; details?: { field: string; message: string }[] };
}

describe("HTTP ingest and the liveness API", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let monitor: Monitor;
  let keys: JoinKeyStandIn;

  const post = (path: string, body: unknown, token: string | null = TOKEN, raw = false) =>
    fetch(`${monitor.url}${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: raw ? (body as string) : JSON.stringify(body),
    });
  const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect(nats.clientOptions());
    keys = await JoinKeyStandIn.start(nats, { [TOKEN]: "cron", [ELSEWHERE_KEY]: "elsewhere" });
    monitor = await createMonitor(
      {
        ...nats.clientOptions(),
        port: 0,
        // This file tests the API's answers; api-auth.int.test.ts tests its access tokens.
        auth: false,
        monitorId: "h1",
        groups: ["g1", "cron"],
        ingestRatePerSec: 0.5,
        ingestBurst: 3,
        ingestMaxBytes: 2048,
        maxMetaBytes: 128,
        sweepIntervalMs: 50,
      },
      { logger: silentLogger },
    );
    await monitor.current;
  });
  afterAll(async () => {
    await monitor?.close();
    await keys?.stop();
    await nc?.close();
    await nats?.stop();
  });

  it("takes a POSTed heartbeat into KON_HB and reports the node up with its config revisions", async () => {
    const res = await post("/v1/heartbeat/cron/backup", {
      intervalMs: 60_000,
      allowedMisses: 2,
      meta: { job: "nightly" },
      config: { backup: { revision: 12, sha256: SHA } },
    });
    expect(res.status).toBe(202);
    const body = await json<{ accepted: boolean; seq: number; ttlMs: number }>(res);
    expect(body).toMatchObject({ accepted: true, ttlMs: 120_000 });
    expect(body.seq).toBeGreaterThan(0);
    await waitForEvents(nc, (e) => eventsOf(e, "backup", "up").length === 1);

    const list = await json<{ count: number; nodes: NodeSummary[] }>(
      await fetch(`${monitor.url}/v1/nodes?group=cron`),
    );
    expect(list.count).toBe(1);
    expect(list.nodes[0]).toMatchObject({
      group: "cron",
      node: "backup",
      status: "up",
      verified: true,
      intervalMs: 60_000,
      allowedMisses: 2,
      ttlMs: 120_000,
      config: { backup: { revision: 12, sha256: SHA } },
    });
    expect(list.nodes[0]!.ageMs).toBeGreaterThanOrEqual(0);
    expect(list.nodes[0]!.ageMs).toBeLessThan(10_000);

    const one = await json<NodeSummary & { meta: Record<string, string> }>(
      await fetch(`${monitor.url}/v1/nodes/cron/backup`),
    );
    expect(one.meta).toEqual({ job: "nightly" });
    expect(one.lastSeenMs).toBeGreaterThan(0);
  });

  it("accepts GET with the join key in a header and settings in the query, for curl from cron", async () => {
    const inUrl = await fetch(
      `${monitor.url}/v1/heartbeat/cron/report?token=${TOKEN}&intervalMs=3600000&allowedMisses=1`,
    );
    expect(inUrl.status).toBe(400);
    expect((await json<ErrorBody>(inUrl)).error.message).toMatch(/header/);
    const res = await fetch(
      `${monitor.url}/v1/heartbeat/cron/report?intervalMs=3600000&allowedMisses=1`,
      { headers: { "x-kon-join-key": TOKEN } },
    );
    expect(res.status).toBe(202);
    expect(await json<{ ttlMs: number }>(res)).toMatchObject({ ttlMs: 3_600_000 });
    await waitForEvents(nc, (e) => eventsOf(e, "report", "up").length === 1);
  });

  it("answers 401 without or with a wrong token", async () => {
    for (const token of [null, "wrong-token-123"]) {
      const res = await post("/v1/heartbeat/cron/backup", {}, token);
      expect(res.status).toBe(401);
      expect((await json<ErrorBody>(res)).error.code).toBe("UNAUTHORIZED");
    }
  });

  it("answers 400 for a bad name, a bad field or bad JSON, naming what is wrong", async () => {
    let res = await post("/v1/heartbeat/cron/bad$node", {});
    expect(res.status).toBe(400);
    expect(await json<ErrorBody>(res)).toMatchObject({ error: { code: "INVALID_NAME" } });
    res = await post("/v1/heartbeat/Bad_Group/n1", {});
    expect(res.status).toBe(400);
    res = await post("/v1/heartbeat/cron/n1", { intervalMs: 5, extra: 1 });
    expect(res.status).toBe(400);
    const err = await json<ErrorBody>(res);
    expect(err.error.code).toBe("INVALID_HEARTBEAT");
    expect(err.error.details?.map((d) => d.field).sort()).toEqual(["body", "intervalMs"]);
    res = await post("/v1/heartbeat/cron/n1", "{not json", TOKEN, true);
    expect(res.status).toBe(400);
    expect((await json<ErrorBody>(res)).error.message).toMatch(/not valid JSON/);
  });

  it("answers 404 for a group it does not know and 405 for other methods", async () => {
    let res = await post("/v1/heartbeat/elsewhere/n1", {}, ELSEWHERE_KEY);
    expect(res.status).toBe(404);
    expect((await json<ErrorBody>(res)).error.code).toBe("UNKNOWN_GROUP");
    res = await fetch(`${monitor.url}/v1/heartbeat/cron/n1`, {
      method: "PUT",
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(res.status).toBe(405);
  });

  it("answers 413 for a body or a meta over the limits", async () => {
    let res = await post("/v1/heartbeat/cron/n2", { meta: { blob: "x".repeat(4000) } });
    expect(res.status).toBe(413);
    expect((await json<ErrorBody>(res)).error.code).toBe("PAYLOAD_TOO_LARGE");
    res = await post("/v1/heartbeat/cron/n2", { meta: { blob: "x".repeat(200) } });
    expect(res.status).toBe(413);
    expect((await json<ErrorBody>(res)).error.message).toMatch(/meta is 204 bytes/);
  });

  it("answers 429 with Retry-After once a node exceeds its rate", async () => {
    const codes: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const res = await post("/v1/heartbeat/cron/chatty", {});
      codes.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get("retry-after");
    }
    expect(codes).toEqual([202, 202, 202, 429, 429]);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
  });

  it("lists, shows and refuses nodes in the API, and counts ingest in /metrics", async () => {
    let res = await fetch(`${monitor.url}/v1/nodes/cron/nobody`);
    expect(res.status).toBe(404);
    expect((await json<ErrorBody>(res)).error.code).toBe("NOT_FOUND");
    res = await fetch(`${monitor.url}/v1/nodes?group=NOT_A_GROUP`);
    expect(res.status).toBe(400);
    const all = await json<{ nodes: NodeSummary[] }>(await fetch(`${monitor.url}/v1/nodes`));
    expect(all.nodes.map((n) => `${n.group}.${n.node}`)).toEqual([
      "cron.backup",
      "cron.chatty",
      "cron.report",
    ]);
    const metrics = await (await fetch(`${monitor.url}/metrics`)).text();
    expect(metrics).toMatch(/kon_monitor_http_ingest_total\{status="429",monitor="h1"\} 2/);
    expect(metrics).toMatch(/kon_monitor_http_ingest_total\{status="401",monitor="h1"\} 2/);
  });
});
