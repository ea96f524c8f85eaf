import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { silentLogger } from "@konorkestra/sdk";
import { SECURITY_HEADERS } from "@konorkestra/sdk/internal";
import { rawGet, sharedTestTokens, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import type { ConsoleMessage } from "playwright-core";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { signIn } from "./helpers/dashboard-sign-in";
import { launchChromium } from "./helpers/headless-chromium";
import type { HeadlessChromium } from "./helpers/headless-chromium";
import { readAuth, testAuth } from "./helpers/test-auth";

// H6 finding H12: every answer of the analytics HTTP app, the dashboard's files and the JSON API
// alike, carries the browser security headers of sdk/internal (CSP, no framing, no sniffing, no
// Referer, own window), and the dashboard still works in a real browser under that CSP.

let nats: NatsServer;
let db: PostgresDatabase;
let svc: AnalyticsService;
let ingestOnly: AnalyticsService;
let browser: HeadlessChromium;

beforeAll(async () => {
  browser = await launchChromium(); // first: a missing chromium fails the test, loudly
  execFileSync(process.execPath, [join(__dirname, "..", "scripts", "copy-assets.mjs")]);
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  const common = { ...testAuth(), ...nats.clientOptions(), pgUrl: db.url, port: 0 };
  svc = await createAnalytics({ ...common, logger: silentLogger });
  ingestOnly = await createAnalytics({ ...common, roles: ["ingest"], logger: silentLogger });
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([svc?.close(), ingestOnly?.close()]);
  await Promise.all([nats?.stop(), db?.stop()]);
});

/** The security headers an answer carries, by the names of SECURITY_HEADERS. */
function securityHeadersOf(get: (name: string) => string | null | undefined): object {
  return Object.fromEntries(Object.keys(SECURITY_HEADERS).map((k) => [k, get(k) ?? null]));
}

async function headersOf(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; security: object; type: string | null }> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return {
    status: res.status,
    security: securityHeadersOf((k) => res.headers.get(k)),
    type: res.headers.get("content-type"),
  };
}

test("the dashboard's page and files carry the headers", async () => {
  for (const [path, type] of [
    ["/", /^text\/html/],
    ["/app.js", /javascript/],
    ["/style.css", /^text\/css/],
    ["/vendor/uPlot.iife.min.js", /javascript/],
  ] as const) {
    const a = await headersOf(`${svc.url}${path}`);
    expect([path, a.status]).toEqual([path, 200]);
    expect(a.type).toMatch(type);
    expect(a.security).toEqual(SECURITY_HEADERS);
  }
});

test("JSON answers carry them too: a route, a refusal without token, a 404, the health check", async () => {
  for (const [path, headers, status] of [
    ["/v1/fleet/summary", readAuth(), 200],
    ["/v1/fleet/summary", {}, 401],
    ["/v1/no-such-route", readAuth(), 404],
    ["/healthz", {}, 200],
  ] as const) {
    const a = await headersOf(`${svc.url}${path}`, headers);
    expect([path, a.status]).toEqual([path, status]);
    expect(a.type).toMatch(/^application\/json/);
    expect(a.security).toEqual(SECURITY_HEADERS);
  }
});

test("the edge's refusal of a foreign Host (421) carries them", async () => {
  const res = await rawGet(`${svc.url}/`, { host: "evil.example" });
  const answer = {
    status: res.status,
    security: securityHeadersOf((k) => res.headers[k.toLowerCase()] as string | undefined),
  };
  expect(answer).toEqual({ status: 421, security: SECURITY_HEADERS });
});

test("an ingest-only instance's app carries them", async () => {
  for (const [path, status] of [
    ["/v1/pipeline", 200],
    ["/v1/fleet/summary", 404],
  ] as const) {
    const a = await headersOf(`${ingestOnly.url}${path}`, readAuth());
    expect([path, a.status]).toEqual([path, status]);
    expect(a.security).toEqual(SECURITY_HEADERS);
  }
});

test("the dashboard works under the policy, which the browser enforces", async () => {
  const page = await browser.context.newPage();
  const refused: string[] = [];
  page.on("console", (m: ConsoleMessage) => {
    if (/Content Security Policy/i.test(m.text())) refused.push(m.text());
  });
  page.on("pageerror", (e) => refused.push(`page error: ${e.message}`));
  await page.addInitScript(`
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(e.violatedDirective + " " + e.blockedURI));
  `);
  await page.goto(`${svc.url}/`);
  await signIn(page, sharedTestTokens().mint(["read"]));
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
  // The chart library ran: uPlot drew its canvas.
  await page.waitForSelector("#chart canvas", { timeout: 15_000 });
  expect(await page.evaluate("window.__cspViolations")).toEqual([]);
  expect(refused).toEqual([]);

  // The policy is in force: an inline script the page is made to insert does not run.
  const ran = await page.evaluate(`(() => {
    const s = document.createElement("script");
    s.textContent = "window.__inlineRan = true";
    document.body.append(s);
    return window.__inlineRan === true;
  })()`);
  expect(ran).toBe(false);
  expect(await page.evaluate("window.__cspViolations.length")).toBeGreaterThan(0);
  await page.close();
});

test("another page cannot frame the dashboard", async () => {
  const page = await browser.context.newPage();
  await page.setContent(`<iframe id="f" src="${svc.url}/"></iframe>`);
  const frame = await (await page.waitForSelector("#f")).contentFrame();
  await page.waitForTimeout(500);
  // A refused frame never gets the dashboard's document (Chromium shows its error page there).
  expect(await frame?.$("#signin-form").catch(() => null)).toBeNull();
  await page.close();
});
