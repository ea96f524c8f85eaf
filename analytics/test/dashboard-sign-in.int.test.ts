import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { silentLogger } from "@konorkestra/sdk";
import { sharedTestTokens, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import type { Page, Request } from "playwright-core";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { signIn } from "./helpers/dashboard-sign-in";
import { launchChromium } from "./helpers/headless-chromium";
import type { HeadlessChromium } from "./helpers/headless-chromium";
import { testAuth } from "./helpers/test-auth";

// Issue 10 item 4: the dashboard signs in with an API token, keeps it in session storage only
// and sends it with every API request; a refused token brings the form back.

let nats: NatsServer;
let db: PostgresDatabase;
let svc: AnalyticsService;
let browser: HeadlessChromium;
const TOKEN_KEY = "konorkestra.analytics.token";

beforeAll(async () => {
  browser = await launchChromium();
  execFileSync(process.execPath, [join(__dirname, "..", "scripts", "copy-assets.mjs")]);
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    logger: silentLogger,
  });
});

afterAll(async () => {
  await browser?.close();
  await svc?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

/** The token a storage of the page holds (the page's own script, not the test's types). */
function stored(page: Page, storage: "sessionStorage" | "localStorage"): Promise<string | null> {
  return page.evaluate<string | null>(`${storage}.getItem(${JSON.stringify(TOKEN_KEY)})`);
}

/** A fresh tab that records every API request it makes (path and Authorization header). */
async function tab(): Promise<{ page: Page; api: { path: string; auth: string | undefined }[] }> {
  const page = await browser.context.newPage();
  const api: { path: string; auth: string | undefined }[] = [];
  page.on("request", (r: Request) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith("/v1/")) {
      api.push({ path: url.pathname, auth: r.headers()["authorization"] });
    }
  });
  await page.goto(`${svc.url}/`);
  return { page, api };
}

test("without a token the page shows the sign-in form and asks the API nothing", async () => {
  const { page, api } = await tab();
  await page.waitForSelector("#signin:not([hidden])");
  await page.waitForTimeout(300); // room for a request the page should not make
  expect(api).toEqual([]);
  expect(await page.getAttribute("body", "data-signed-in")).toBe("false");
  await page.close();
});

test("a wrong or expired token is refused, shown, and never stored", async () => {
  const { page } = await tab();
  for (const bad of ["kon1.bogus.token", sharedTestTokens().mint(["read"], { ttlSec: -10 })]) {
    await signIn(page, bad);
    await page.waitForSelector("#signin-error:not([hidden])");
    expect(await page.textContent("#signin-error")).toMatch(/refused/);
    expect(await stored(page, "sessionStorage")).toBeNull();
    await page.evaluate('document.querySelector("#signin-error").hidden = true');
  }
  await page.close();
});

test("a read token signs in: kept in session storage, sent on every request, survives a reload", async () => {
  const { page, api } = await tab();
  const token = sharedTestTokens().mint(["read"]);
  await signIn(page, token);
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
  expect(await page.isHidden("#signin")).toBe(true);
  expect(await stored(page, "sessionStorage")).toBe(token);
  expect(await stored(page, "localStorage")).toBeNull();
  expect(api.length).toBeGreaterThanOrEqual(8); // the check, then a full refresh
  for (const r of api) expect(r).toEqual({ path: r.path, auth: `Bearer ${token}` });

  api.length = 0;
  await page.reload();
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
  expect(api.length).toBeGreaterThan(0);
  for (const r of api) expect(r.auth).toBe(`Bearer ${token}`);
  await page.close();
});

test("a token that stops working (here: signed out, then a stale token) brings the form back", async () => {
  const { page } = await tab();
  await signIn(page, sharedTestTokens().mint(["read"], { ttlSec: 3 }));
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
  // The dashboard refreshes every 5 s; by then the 3 s token has expired and the API says 401.
  await page.waitForSelector("#signin:not([hidden])", { timeout: 15_000 });
  expect(await page.textContent("#signin-error")).toMatch(/refused/);
  expect(await stored(page, "sessionStorage")).toBeNull();

  await signIn(page, sharedTestTokens().mint(["read"]));
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
  await page.click("#signout");
  await page.waitForSelector("#signin:not([hidden])");
  expect(await stored(page, "sessionStorage")).toBeNull();
  await page.close();
});

test("a token limited to several groups signs in and shows one of them at a time, picked in the header", async () => {
  const token = sharedTestTokens().mint(["read"], { sub: "two-groups", groups: ["gb", "ga"] });
  const page = await browser.context.newPage();
  const asked: URL[] = [];
  const refused: string[] = [];
  page.on("request", (r: Request) => {
    const url = new URL(r.url());
    if (url.pathname.startsWith("/v1/")) asked.push(url);
  });
  page.on("response", (r) => {
    if (r.status() >= 400 && new URL(r.url()).pathname.startsWith("/v1/")) refused.push(r.url());
  });
  await page.goto(`${svc.url}/`);
  await signIn(page, token);
  // Before: the sign-in check asked for every group, got 403 and the form said "lacks the 'read' scope".
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
  expect(refused).toEqual([]);
  expect(await page.isHidden("#group-picker")).toBe(false);
  const options = await page.evaluate<string[]>(
    `[...document.querySelectorAll("#group option")].map((o) => o.textContent)`,
  );
  expect(options).toEqual(["ga", "gb"]);
  expect(await page.inputValue("#group")).toBe("ga");
  expect(asked.length).toBeGreaterThanOrEqual(9);
  for (const u of asked) expect(u.searchParams.getAll("group")).toEqual(["ga"]);

  asked.length = 0;
  await page.selectOption("#group", "gb");
  await page.waitForFunction(`new URL(location.href).searchParams.get("group") === "gb"`);
  for (let i = 0; i < 50 && asked.length < 8; i++) await page.waitForTimeout(100);
  expect(asked.length).toBeGreaterThanOrEqual(8);
  for (const u of asked) expect(u.searchParams.getAll("group")).toEqual(["gb"]);
  expect(refused).toEqual([]);
  await page.close();
});
