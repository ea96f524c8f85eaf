import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import type { NodeSummary } from "../src/http/nodes-router";
import { JoinKeyStandIn } from "./helpers/join-key-stand-in";

// Finding H15 (session 8): the monitor's GET /v1/nodes took no page and ignored every bad or
// unknown parameter. It now pages as analytics' /v1/nodes does (limit, opaque cursor, group,
// status) and refuses a bad, repeated or unknown parameter with a 400 naming it.

const KEY_A = "PAGING-KEY-OF-GROUP-A-0000";
const KEY_B = "PAGING-KEY-OF-GROUP-B-0000";

let nats: NatsServer;
let keys: JoinKeyStandIn;
let monitor: Monitor;

interface Page {
  count: number;
  nodes: NodeSummary[];
  next: string | null;
}

const list = async (query: string) => {
  const res = await fetch(`${monitor.url}/v1/nodes${query}`);
  return { status: res.status, body: (await res.json()) as Page & { error?: { message: string } } };
};

beforeAll(async () => {
  nats = await startNats();
  keys = await JoinKeyStandIn.start(nats, { [KEY_A]: "pa", [KEY_B]: "pb" });
  monitor = await createMonitor(
    {
      ...nats.serviceOptions("monitor"),
      port: 0,
      auth: false,
      monitorId: "paging",
      groups: ["pa", "pb"],
      sweepIntervalMs: 50,
    },
    { logger: silentLogger },
  );
  await monitor.current;
  // 14 nodes in pa, 9 in pb: more than one page of 5 in each group and across both.
  const beats: Promise<Response>[] = [];
  for (let i = 0; i < 14; i++) beats.push(beat("pa", `n${i}`, KEY_A));
  for (let i = 0; i < 9; i++) beats.push(beat("pb", `m${i}`, KEY_B));
  for (const r of await Promise.all(beats)) expect(r.status).toBe(202);
  const deadline = Date.now() + 10_000;
  while ((await list("")).body.count < 23 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
}, 30_000);
afterAll(async () => {
  await monitor?.close();
  await keys?.stop();
  await nats?.stop();
});

const beat = (group: string, node: string, key: string) =>
  fetch(`${monitor.url}/v1/heartbeat/${group}/${node}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ intervalMs: 60_000 }),
  });

async function follow(query: string): Promise<{ pages: number; names: string[] }> {
  const names: string[] = [];
  let pages = 0;
  let cursor: string | null = null;
  do {
    const sep = query === "" ? "?" : "&";
    const q = cursor === null ? query : `${query}${sep}cursor=${encodeURIComponent(cursor)}`;
    const { status, body } = await list(`?limit=5${q === "" ? "" : `&${q.slice(1)}`}`);
    expect(status).toBe(200);
    expect(body.count).toBe(body.nodes.length);
    expect(body.nodes.length).toBeLessThanOrEqual(5);
    names.push(...body.nodes.map((n) => `${n.group}.${n.node}`));
    cursor = body.next;
    pages += 1;
  } while (cursor !== null && pages < 20);
  return { pages, names };
}

test("without limit the whole list comes in one answer, with next null", async () => {
  const { status, body } = await list("");
  expect(status).toBe(200);
  expect(body.count).toBe(23);
  expect(body.next).toBeNull();
});

test("pages of limit follow the cursor through every node once, in the whole list's order", async () => {
  const whole = (await list("")).body.nodes.map((n) => `${n.group}.${n.node}`);
  const all = await follow("");
  expect(all.pages).toBe(5); // 5+5+5+5+3
  expect(all.names).toEqual(whole);

  const pa = await follow("?group=pa");
  expect(pa.pages).toBe(3); // 5+5+4
  expect(pa.names).toEqual(whole.filter((k) => k.startsWith("pa.")));

  const up = await follow("?group=pb&status=up");
  expect(up.names).toEqual(whole.filter((k) => k.startsWith("pb.")));
  expect((await list("?status=down")).body.count).toBe(0);
});

test("a page that ends exactly at the last node says next null", async () => {
  const { body } = await list("?group=pb&limit=9");
  expect(body.count).toBe(9);
  expect(body.next).toBeNull();
  const first = await list("?group=pb&limit=8");
  expect(first.body.next).not.toBeNull();
  const rest = await list(`?group=pb&limit=8&cursor=${first.body.next}`);
  expect(rest.body.count).toBe(1);
  expect(rest.body.next).toBeNull();
});

test.each([
  ["limit=0", "limit", /at least 1/],
  ["limit=abc", "limit", /whole number/],
  ["limit=10001", "limit", /at most 10000/],
  ["limit=5&limit=6", "limit", /more than once/],
  ["cursor=abc%00", "cursor", /not a cursor/],
  [`cursor=${Buffer.from('["pa"]').toString("base64url")}`, "cursor", /not a cursor/],
  ["status=bogus", "status", /./],
  ["group=Bad!", "group", /a-z0-9-/],
  ["foo=1", "foo", /unrecognized|unknown/i],
])("?%s is a 400 naming %s", async (query, name, why) => {
  const { status, body } = await list(`?${query}`);
  expect(status).toBe(400);
  expect(body.error?.message).toMatch(new RegExp(`\\b${name}\\b`));
  expect(body.error?.message).toMatch(why);
});
