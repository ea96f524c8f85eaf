import { request } from "node:http";
import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import { JoinKeyStandIn } from "./helpers/join-key-stand-in";

// Issue 10 item 4: HTTP ingest authenticates with the group's join key, in a header only, checked
// by the admin over NATS (here its wire-contract stand-in on the admin's credential; the monitor
// on its own least-privilege credential); verdicts cached briefly; checks rate-limited per source.

const KEY_A = "KEY-OF-GROUP-A-000000000000";
const KEY_B = "KEY-OF-GROUP-B-000000000000";
const KEY_B2 = "SECOND-KEY-OF-GROUP-B-00000"; // a rotation's new key: first used in the cache test

let nats: NatsServer;
let keys: JoinKeyStandIn;
let monitor: Monitor;

beforeAll(async () => {
  nats = await startNats();
  keys = await JoinKeyStandIn.start(nats, { [KEY_A]: "ga", [KEY_B]: "gb", [KEY_B2]: "gb" });
  monitor = await createMonitor(
    {
      ...nats.serviceOptions("monitor"),
      port: 0,
      monitorId: "ingest-keys",
      groups: ["ga", "gb"],
      sweepIntervalMs: 50,
    },
    { logger: silentLogger },
  );
  await monitor.current;
});
afterAll(async () => {
  await monitor?.close();
  await keys?.stop();
  await nats?.stop();
});

const beat = (path: string, headers: Record<string, string> = {}) =>
  fetch(`${monitor.url}/v1/heartbeat/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: "{}",
  });
const bearer = (k: string) => ({ authorization: `Bearer ${k}` });
const answer = async (res: Response) => ({
  status: res.status,
  body: await res.json(),
});

test("the group's key admits in either header", async () => {
  expect((await beat("ga/n1", bearer(KEY_A))).status).toBe(202);
  expect((await beat("ga/n2", { "x-kon-join-key": KEY_A })).status).toBe(202);
});

test("no key, a wrong key and another group's key get one and the same 401", async () => {
  const answers = [
    await answer(await beat("ga/n3")),
    await answer(await beat("ga/n3", bearer("NOT-A-KEY-OF-ANY-GROUP-000"))),
    await answer(await beat("ga/n3", bearer(KEY_B))),
  ];
  for (const a of answers) expect(a).toEqual(answers[0]);
  expect(answers[0]).toMatchObject({ status: 401, body: { error: { code: "UNAUTHORIZED" } } });
});

test("a key in the URL is refused with 400 pointing at the header, even beside a valid header", async () => {
  for (const q of ["token", "key", "joinKey"]) {
    const res = await fetch(`${monitor.url}/v1/heartbeat/ga/n4?${q}=${KEY_A}`, {
      headers: bearer(KEY_A),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/Authorization: Bearer <join key>/);
    expect(body.error.message).not.toContain(KEY_A);
  }
});

test("verdicts are cached: repeated requests with one key cost one check, yes or no", async () => {
  const before = keys.asked;
  for (let i = 0; i < 5; i++) expect((await beat(`gb/c${i}`, bearer(KEY_B2))).status).toBe(202);
  for (let i = 0; i < 5; i++) {
    expect((await beat("gb/c0", bearer("WRONG-KEY-SAME-EVERY-TIME-0"))).status).toBe(401);
  }
  expect(keys.asked - before).toBe(2);
  expect(keys.hosts.at(-1)).toMatch(/127\.0\.0\.1$/);
});

test("guessing keys from one address is rate-limited (429 with Retry-After)", async () => {
  const codes: number[] = [];
  let retryAfter: string | null = null;
  for (let i = 0; i < 20; i++) {
    const res = await beat("ga/guess", bearer(`GUESS-${String(i).padStart(21, "0")}`));
    codes.push(res.status);
    if (res.status === 429) retryAfter = res.headers.get("retry-after");
  }
  expect(codes).toContain(429);
  expect(codes.filter((c) => c === 401).length).toBeLessThanOrEqual(10);
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
});

test("no verdict from the admin is a 503 and is not cached", async () => {
  const fresh = "FRESH-KEY-NOT-CACHED-00000";
  keys.override = { ok: false, unavailable: true };
  const res = await new Promise<number | undefined>((resolve, reject) => {
    // A new source address would be nicer; the rate limit above spent this one's burst, so
    // wait for a token first.
    setTimeout(() => {
      beat("ga/late", bearer(fresh)).then((r) => resolve(r.status), reject);
    }, 1100);
  });
  expect(res).toBe(503);
  keys.override = undefined;
  await new Promise((r) => setTimeout(r, 600));
  expect((await beat("ga/late", bearer(fresh))).status).toBe(401); // asked again: a real verdict
});

test("a Host that is not the monitor's own is refused with 421", async () => {
  const u = new URL(monitor.url);
  const status = await new Promise<number | undefined>((resolve, reject) => {
    request(
      { host: u.hostname, port: u.port, path: "/healthz", headers: { host: "evil.example" } },
      (r) => {
        r.resume();
        resolve(r.statusCode);
      },
    )
      .on("error", reject)
      .end();
  });
  expect(status).toBe(421);
});
