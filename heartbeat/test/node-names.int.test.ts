import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import { JoinKeyStandIn } from "./helpers/join-key-stand-in";

// The monitor's GET /v1/nodes/:group/:node checks the group and node id by the sdk's name rules,
// as analytics' does (the sdk's groupParam / nodeParam): a 400 naming the parameter, quoting at
// most 40 characters of what was sent. It used to answer 404 with the whole input in the message.

const KEY = "NODE-NAMES-KEY-OF-GROUP-0000";
const HUGE = "x".repeat(5000);

let nats: NatsServer;
let keys: JoinKeyStandIn;
let monitor: Monitor;

interface Answer {
  status: number;
  text: string;
  error?: { code: string; message: string };
}

async function get(path: string, init?: RequestInit): Promise<Answer> {
  const res = await fetch(`${monitor.url}${path}`, init);
  const text = await res.text();
  const body = text.startsWith("{") ? (JSON.parse(text) as { error?: Answer["error"] }) : {};
  return { status: res.status, text, error: body.error };
}

beforeAll(async () => {
  nats = await startNats();
  keys = await JoinKeyStandIn.start(nats, { [KEY]: "names" });
  monitor = await createMonitor(
    {
      ...nats.serviceOptions("monitor"),
      port: 0,
      auth: false,
      monitorId: "names",
      groups: ["names"],
      sweepIntervalMs: 50,
    },
    { logger: silentLogger },
  );
  await monitor.current;
  const beat = await fetch(`${monitor.url}/v1/heartbeat/names/n1`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ intervalMs: 60_000 }),
  });
  expect(beat.status).toBe(202);
  const deadline = Date.now() + 10_000;
  while ((await get("/v1/nodes/names/n1")).status !== 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
}, 30_000);
afterAll(async () => {
  await monitor?.close();
  await keys?.stop();
  await nats?.stop();
});

it("a node id the sdk's rules refuse is a 400 naming the parameter, not a 404", async () => {
  const dotted = await get("/v1/nodes/names/a.b");
  expect(dotted.status).toBe(400);
  expect(dotted.error).toEqual({
    code: "QUERY_INVALID",
    message:
      "invalid path parameter node: invalid node id \"a.b\": use letters, digits, '_', '-' or '=' (no dots, spaces or wildcards)",
  });
  const badGroup = await get("/v1/nodes/Names/n1");
  expect(badGroup.status).toBe(400);
  expect(badGroup.error?.message).toMatch(/^invalid path parameter group: /);
});

it("a 5,000-character node id is a 400 that does not send it back", async () => {
  const huge = await get(`/v1/nodes/names/${HUGE}`);
  expect(huge.status).toBe(400);
  expect(huge.error?.message).toBe(
    `invalid path parameter node: invalid node id "${"x".repeat(40)}"… (5000 characters): length must be 1-128`,
  );
  expect(huge.text.length).toBeLessThan(400);
});

it("the heartbeat ingest does not send a huge node id or group back either", async () => {
  const init = {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    body: "{}",
  };
  const node = await get(`/v1/heartbeat/names/${HUGE}`, init);
  expect(node.status).toBe(400);
  expect(node.text).not.toContain("x".repeat(41));
  expect(node.error?.message).toContain("(5000 characters)");
  const group = await get(`/v1/heartbeat/${HUGE}/n1`, init);
  expect(group.status).toBe(400);
  expect(group.text).not.toContain("x".repeat(41));
});

it("valid names still answer: known node 200, unknown node 404; unknown query parameters 400", async () => {
  expect((await get("/v1/nodes/names/n1")).status).toBe(200);
  const unknown = await get("/v1/nodes/names/n2");
  expect(unknown.status).toBe(404);
  expect(unknown.error?.message).toBe("node names.n2 is not known to this monitor");
  const extra = await get("/v1/nodes/names/n1?detail=full");
  expect(extra.status).toBe(400);
  expect(extra.error?.message).toMatch(/^invalid query parameter input: Unrecognized key/);
});
