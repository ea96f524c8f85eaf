import { silentLogger } from "@konorkestra/sdk";
import { startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { createMonitor } from "../src/monitor";
import type { Monitor } from "../src/monitor";
import { JoinKeyStandIn } from "./helpers/join-key-stand-in";

// Finding H13 (session 8): a flood of wrong join keys from one address drained that address's
// key-check budget, so the right keys of every group from the same address got 429 too (nodes
// behind one NAT or proxy reported down by one bad client). Only failed checks count now, and a
// key that verified renews its verdict without the per-source budget; the flood still costs the
// admin no more checks than the budget holds.

const KEY_A = "FLOOD-TEST-KEY-OF-GROUP-A-0";
const KEY_B = "FLOOD-TEST-KEY-OF-GROUP-B-0";
const CACHE_MS = 300;

let nats: NatsServer;
let keys: JoinKeyStandIn;
let monitor: Monitor;

beforeAll(async () => {
  nats = await startNats();
  keys = await JoinKeyStandIn.start(nats, { [KEY_A]: "ga", [KEY_B]: "gb" });
  monitor = await createMonitor(
    {
      ...nats.serviceOptions("monitor"),
      port: 0,
      monitorId: "ingest-flood",
      groups: ["ga", "gb"],
      sweepIntervalMs: 50,
      joinKeyCacheMs: CACHE_MS,
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

const beat = (path: string, key: string) =>
  fetch(`${monitor.url}/v1/heartbeat/${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: "{}",
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a flood of wrong keys from an address does not lock out the right keys from it", async () => {
  // Both groups' nodes behind this address have beaten before the flood.
  expect((await beat("ga/a1", KEY_A)).status).toBe(202);
  expect((await beat("gb/b1", KEY_B)).status).toBe(202);

  const askedBefore = keys.asked;
  const flood = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      beat("ga/guess", `WRONG-${String(i).padStart(21, "0")}`).then((r) => r.status),
    ),
  );
  // The flood is limited as before: at most the burst (10, plus what refills meanwhile) reaches
  // the admin, the rest is 429.
  expect(flood.filter((s) => s === 429).length).toBeGreaterThanOrEqual(25);
  expect(flood.filter((s) => s === 401).length).toBeLessThanOrEqual(12);
  expect(keys.asked - askedBefore).toBeLessThanOrEqual(12);

  // The right keys' verdicts expire and are renewed from the same, drained address.
  await sleep(CACHE_MS + 100);
  const askedMid = keys.asked;
  expect((await beat("ga/a2", KEY_A)).status).toBe(202);
  expect((await beat("gb/b2", KEY_B)).status).toBe(202);
  expect(keys.asked - askedMid).toBe(2);

  // Wrong keys from the address are still refused for their rate.
  const after: number[] = [];
  for (let i = 0; i < 5; i++) {
    after.push((await beat("ga/guess", `WRONG-AFTER-${String(i).padStart(14, "0")}`)).status);
  }
  expect(after).toContain(429);
});

test("a key that verifies gives its check back: good keys never drain their address", async () => {
  await sleep(6000); // the address's budget (10, refilling at 2/s) is whole again
  // More first-time-good checks than the burst holds, each on its own cache expiry.
  for (let i = 0; i < 14; i++) {
    expect((await beat(`ga/g${i}`, KEY_A)).status).toBe(202);
    await sleep(CACHE_MS + 20);
  }
  // The whole budget is still there for mistakes: 10 wrong keys get 401, not 429.
  const wrong: number[] = [];
  for (let i = 0; i < 10; i++) {
    wrong.push((await beat("ga/guess", `OTHER-WRONG-${String(i).padStart(15, "0")}`)).status);
  }
  expect(wrong).toEqual(Array(10).fill(401));
}, 30_000);
