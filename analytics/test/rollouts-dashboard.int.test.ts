import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import type { Page } from "playwright-core";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import type { Rollout } from "../src/domain/rollouts";
import { signIn } from "./helpers/dashboard-sign-in";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { getJson } from "./helpers/get-json";
import { launchChromium } from "./helpers/headless-chromium";
import type { HeadlessChromium } from "./helpers/headless-chromium";
import { GROUP, KEY, RolloutFleet } from "./helpers/rollout-fleet";
import { readAuth, testAuth } from "./helpers/test-auth";
import { waitFor } from "./helpers/wait-for";

// The dashboard's rollout panel in headless Chromium while a rollout converges: real SDK nodes
// (a accepts, c refuses by schema, d lags behind a slow handler), real NATS, TimescaleDB and
// analytics. The panel must show what the API says, and follow d when it catches up.

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;
let browser: HeadlessChromium;
let page: Page;
let fleet: RolloutFleet;
let r2: number;

const rollout = async (): Promise<Rollout> =>
  (await getJson<Rollout>(svc.url, `/v1/rollouts?group=${GROUP}&key=${KEY}`)).body;

/** The panel's row of revision `rev`: [running, refused, behind] as shown. */
async function shownRow(rev: number): Promise<string[]> {
  const tr = page.locator(`#rollout tbody tr[data-revision="${rev}"]`);
  if ((await tr.count()) === 0) return [];
  const cells = tr.locator("td");
  return [
    (await cells.nth(2).textContent()) ?? "",
    (await cells.nth(5).textContent()) ?? "",
    (await cells.nth(6).textContent()) ?? "",
  ];
}

beforeAll(async () => {
  browser = await launchChromium(); // first: a missing chromium fails the test, loudly
  execFileSync(process.execPath, [join(__dirname, "..", "scripts", "copy-assets.mjs")]);
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  sim = await FleetSimulator.connect(nats.clientOptions());
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchMs: 50,
    nodeStateResolutionMs: 0,
    logger: silentLogger,
  });
  fleet = new RolloutFleet(nats, sim);
  await fleet.publish(1);
  await Promise.all(["a", "c", "d"].map((id) => fleet.join(id)));
  await fleet.holdLag();
  r2 = (await fleet.publish(9)).revision;
  await waitFor("a on r2 and c's refusal stored", async () => {
    const r = await rollout();
    const x = r.revisions.find((v) => v.revision === r2);
    return r.liveNodes === 3 && x?.running === 1 && x.refused === 1;
  });
  page = await browser.context.newPage();
  await page.goto(`${svc.url}/?rollout=${GROUP}/${KEY}&refresh_ms=500`);
  await signIn(page, readAuth().authorization.slice("Bearer ".length));
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
}, 30_000);

afterAll(async () => {
  await browser?.close();
  await fleet?.close();
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

test("the panel shows the rollout as the API does: 1 of 3 on the latest, c refused, d behind", async () => {
  await waitFor("panel on ro/svc", async () =>
    (await page.getAttribute("#rollout-panel", "data-key")) === `${GROUP}/${KEY}`
      ? true
      : undefined,
  );
  const api = await rollout();
  const latest = api.revisions.find((x) => x.latest)!;
  expect(latest.revision).toBe(r2);
  expect(await shownRow(r2)).toEqual([
    String(latest.running),
    String(latest.refused),
    String(latest.behind),
  ]);
  expect(await shownRow(r2)).toEqual(["1", "1", "2"]);
  expect(await page.textContent("#rollout-summary")).toContain(
    `revision ${r2} runs on 1 of 3 live nodes (2 behind)`,
  );
  expect(await page.textContent("#rollout-behind")).toMatch(
    /c on \d+ \(refused\), d on \d+ \(behind\)/,
  );
  expect(await page.getAttribute("#rollout-panel", "data-converged")).toBe("false");
  // Every revision the API lists has its row, in the same order.
  const trs = page.locator("#rollout tbody tr");
  const revs: (string | null)[] = [];
  for (let i = 0; i < (await trs.count()); i++) {
    revs.push(await trs.nth(i).getAttribute("data-revision"));
  }
  expect(revs).toEqual(api.revisions.map((x) => String(x.revision)));
});

test("the panel follows the rollout converging: d catches up, only c's refusal remains", async () => {
  fleet.releaseLag();
  await waitFor(
    "panel shows d on the latest",
    async () => ((await shownRow(r2))[0] === "2" ? true : undefined),
    15_000,
  );
  expect(await shownRow(r2)).toEqual(["2", "1", "1"]);
  expect(await page.textContent("#rollout-summary")).toContain("runs on 2 of 3 live nodes");
  expect(await page.textContent("#rollout-behind")).toMatch(/^behind: c on \d+ \(refused\)$/);
  const p50 =
    (await page.locator(`#rollout tbody tr[data-revision="${r2}"] td`).nth(7).textContent()) ?? "";
  expect(p50).toMatch(/^\d+(\.\d)? m?s \/ \d+(\.\d)? m?s$/);
});
