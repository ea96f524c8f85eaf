import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "@konorkestra/sdk";
import { startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import type { Page } from "playwright-core";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { publishScenario, waitForScenario } from "./helpers/fleet-scenario";
import { getJson } from "./helpers/get-json";
import { launchChromium } from "./helpers/headless-chromium";
import type { HeadlessChromium } from "./helpers/headless-chromium";
import { signIn } from "./helpers/dashboard-sign-in";
import { readAuth, testAuth } from "./helpers/test-auth";

// The dashboard in headless Chromium against a live stack (NATS, TimescaleDB, a running
// analytics instance fed with published heartbeats and events): what it shows must match the API.

let nats: NatsServer;
let db: PostgresDatabase;
let sim: FleetSimulator;
let svc: AnalyticsService;
let browser: HeadlessChromium;
let page: Page;

beforeAll(async () => {
  browser = await launchChromium(); // first: a missing chromium fails the test, loudly
  // The chart library is copied into public/vendor by the build; do the same here.
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
  await publishScenario(sim, Date.now());
  await waitForScenario(db.url);
  page = await browser.context.newPage();
  await page.goto(`${svc.url}/`);
  await signIn(page, readAuth().authorization.slice("Bearer ".length));
  await page.waitForSelector("body[data-ready=true]", { timeout: 15_000 });
});

afterAll(async () => {
  await browser?.close();
  await svc?.close();
  await sim?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
});

const api = async <T>(path: string): Promise<T> => (await getJson<T>(svc.url, path)).body;

/** What `/v1/config/drift` answers (the whole fleet's drift), as far as these tests read it. */
interface FullDrift {
  groups: {
    group: string;
    keys: {
      key: string;
      latestRevision: number;
      latestSha256: string;
      inSync: number;
      drifted: number;
      missing: string[];
      revisions: { revision: number; current: boolean; nodes: string[]; rejected: unknown[] }[];
      lastPublished?: unknown;
      lastRejection?: unknown;
    }[];
    unknownKeys: { key: string; nodes: string[] }[];
  }[];
}

test("fleet summary tiles show the API's counts", async () => {
  const summary = await api<{ totals: Record<string, number> }>("/v1/fleet/summary");
  for (const k of ["up", "down", "left", "flapping", "total"]) {
    expect(await page.textContent(`#summary-${k}`)).toBe(String(summary.totals[k]));
  }
  expect(summary.totals.total).toBe(5);
});

test("node table: one row per node with the API's status and uptime", async () => {
  const { nodes } = await api<{ nodes: { group: string; node: string; status: string }[] }>(
    "/v1/nodes",
  );
  const configCells: [string | null, string | null][] = [];
  const cells = page.locator("#nodes tbody tr");
  for (let i = 0; i < (await cells.count()); i++) {
    const tr = cells.nth(i);
    configCells.push([
      await tr.getAttribute("data-node"),
      await tr.locator("td").last().textContent(),
    ]);
  }
  // From the scenario: b runs svc@1 and refused 2; the compact list says so, the page shows it.
  expect(Object.fromEntries(configCells)).toMatchObject({
    "g1/a": expect.stringMatching(/^(svc@2, db@3|db@3, svc@2)$/) as unknown,
    "g1/b": "svc@1 (refused 2)",
  });
  const trs = page.locator("#nodes tbody tr");
  const rows: { node: string | null; status: string | null; uptime: string | null }[] = [];
  for (let i = 0; i < (await trs.count()); i++) {
    const tr = trs.nth(i);
    const pct = tr.locator(".uptime-pct");
    rows.push({
      node: await tr.getAttribute("data-node"),
      status: await tr.getAttribute("data-status"),
      uptime: (await pct.count()) > 0 ? ((await pct.textContent()) ?? "").trim() : null,
    });
  }
  expect(rows.map((r) => [r.node, r.status])).toEqual(
    nodes.map((n) => [`${n.group}/${n.node}`, n.status]),
  );
  for (const r of rows) {
    const [group, node] = (r.node ?? "").split("/");
    const u = await api<{ uptimePct: number | null }>(
      `/v1/nodes/${group}/${node}/uptime?window=24h`,
    );
    if (u.uptimePct === null) expect(r.uptime).toBeNull();
    else expect(Math.abs(parseFloat(r.uptime ?? "") - u.uptimePct)).toBeLessThan(0.15);
  }
  expect(rows.find((r) => r.node === "g1/b")?.uptime).toBe("95.8%");
});

test("incident list and config drift match the API", async () => {
  const { incidents } = await api<{ incidents: { group: string; node: string; open: boolean }[] }>(
    "/v1/incidents",
  );
  const shown: (string | null)[][] = [];
  const incidentRows = page.locator("#incidents tbody tr");
  for (let i = 0; i < (await incidentRows.count()); i++) {
    const tr = incidentRows.nth(i);
    shown.push([await tr.getAttribute("data-node"), await tr.getAttribute("data-open")]);
  }
  expect(shown).toEqual(incidents.map((i) => [`${i.group}/${i.node}`, String(i.open)]));
  expect(shown).toHaveLength(4);

  const drift = await api<FullDrift>("/v1/config/drift");
  const expected = drift.groups.flatMap((g) =>
    g.keys.map((k) => [
      `${g.group}`,
      k.key,
      String(k.latestRevision),
      String(k.inSync),
      String(k.drifted),
      String(k.missing.length),
    ]),
  );
  const cells: string[][] = [];
  const driftRows = page.locator("#drift tbody tr");
  for (let i = 0; i < (await driftRows.count()); i++) {
    cells.push(await driftRows.nth(i).locator("td").allTextContents());
  }
  expect(cells).toEqual(expected);
  expect(cells).toContainEqual(["g1", "svc", "2", "2", "1", "0"]);
});

test("config changes and rejections panels show the API's latest events", async () => {
  type Change = {
    eventId: string;
    kind: string;
    group: string;
    key: string;
    revision: number | null;
    author: string | null;
    nodeId: string | null;
    error: { reason: string; file: string | null; line: number | null } | null;
  };
  const history = await api<{ changes: Change[] }>("/v1/config/history?limit=20");
  const rejections = await api<{ changes: Change[] }>("/v1/config/rejections?limit=20");
  const shown = async (table: string) => {
    const trs = page.locator(`${table} tbody tr`);
    const out: { event: string | null; kind: string | null; cells: string[] }[] = [];
    for (let i = 0; i < (await trs.count()); i++) {
      const tr = trs.nth(i);
      out.push({
        event: await tr.getAttribute("data-event"),
        kind: await tr.getAttribute("data-kind"),
        cells: await tr.locator("td").allTextContents(),
      });
    }
    return out;
  };

  const changes = await shown("#config-changes");
  expect(changes.map((c) => [c.event, c.kind])).toEqual(
    history.changes.map((c) => [c.eventId, c.kind]),
  );
  expect(changes.map((c) => c.cells.slice(1))).toEqual(
    history.changes.map((c) => [
      `${c.group}/${c.key}`,
      c.kind,
      c.revision === null ? "–" : String(c.revision),
      c.author ?? (c.nodeId ? `node ${c.nodeId}` : "–"),
    ]),
  );
  expect(changes.map((c) => c.kind)).toEqual([
    "rejected",
    "rejected",
    "published",
    "published",
    "published",
  ]);
  expect(changes[4]!.cells[4]).toBe("Bob <bob@example.org>");

  const refused = await shown("#config-rejections");
  expect(refused.map((r) => r.event)).toEqual(rejections.changes.map((c) => c.eventId));
  expect(refused.map((r) => r.cells.slice(1))).toEqual([
    ["g1/svc", "config-loader", "g1/svc.yaml:3:7", "bad indentation of a mapping entry"],
    ["g1/svc", "node b", "g1/svc.yaml", "Expected number, received string"],
  ]);
});

test("heartbeat-rate chart is drawn by uPlot with the API's beats", async () => {
  const series = await api<{ points: { beats: number }[] }>(
    "/v1/series/heartbeats?bucket=1m&window=1h",
  );
  const total = series.points.reduce((s, p) => s + p.beats, 0);
  expect(total).toBe(30);
  expect(await page.getAttribute("#chart-caption", "data-beats")).toBe(String(total));
  expect(await page.locator("#chart canvas").count()).toBeGreaterThan(0);
  await page.screenshot({
    path: join(tmpdir(), "kon-dashboard.png"),
    fullPage: true,
  });
});

test("the node table asks for pages, never the whole fleet, and pages with next / previous", async () => {
  const asked: string[] = [];
  const paths: string[] = [];
  const paged = await browser.context.newPage();
  paged.on("request", (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith("/v1/")) paths.push(u.pathname);
    if (u.pathname === "/v1/nodes") asked.push(u.search);
  });
  try {
    await paged.goto(`${svc.url}/?page_size=2`);
    await signIn(paged, readAuth().authorization.slice("Bearer ".length)); // a new tab: no token
    await paged.waitForSelector("body[data-ready=true][data-page='1']", { timeout: 15_000 });
    const shown = async (): Promise<(string | null)[]> => {
      const trs = paged.locator("#nodes tbody tr");
      const out: (string | null)[] = [];
      for (let i = 0; i < (await trs.count()); i++) {
        out.push(await trs.nth(i).getAttribute("data-node"));
      }
      return out;
    };
    type Page = { nodes: { group: string; node: string }[]; next: string | null };
    const key = (n: { group: string; node: string }): string => `${n.group}/${n.node}`;
    const p1 = await api<Page>("/v1/nodes?limit=2");
    expect(await shown()).toEqual(p1.nodes.map(key));
    expect(await paged.textContent("#nodes-page")).toBe("1–2 of 5");
    await paged.click("#nodes-next");
    await paged.waitForSelector("body[data-page='2']");
    const p2 = await api<Page>(`/v1/nodes?limit=2&cursor=${p1.next}`);
    expect(await shown()).toEqual(p2.nodes.map(key));
    await paged.click("#nodes-prev");
    await paged.waitForSelector("body[data-page='1']");
    expect(await shown()).toEqual(p1.nodes.map(key));
    expect(asked.length).toBeGreaterThanOrEqual(3);
    for (const q of asked) expect(new URLSearchParams(q).get("limit")).toBe("2");
    // Pages and summaries only: no whole-fleet drift, no request per row for uptimes.
    expect(paths).not.toContain("/v1/config/drift");
    expect(paths.filter((p) => p.startsWith("/v1/nodes/") && p.endsWith("/uptime"))).toEqual([]);
    expect(paths.filter((p) => p === "/v1/uptime").length).toBe(asked.length);
    expect(paths.filter((p) => p === "/v1/config/drift/summary").length).toBe(asked.length);
  } finally {
    await paged.close();
  }
});

test("the drift summary counts what /v1/config/drift lists; a page's drifting nodes are named", async () => {
  type Summary = {
    groups: {
      group: string;
      keys: {
        key: string;
        latestRevision: number;
        inSync: number;
        drifted: number;
        missing: number;
        revisions: { revision: number; current: boolean; nodes: number; rejected: number }[];
        lastPublished?: unknown;
      }[];
      unknownKeys: { key: string; nodes: number }[];
    }[];
    page?: { group: string; node: string; keys: { key: string; revision: number | null }[] }[];
  };
  const full = await api<FullDrift>("/v1/config/drift");
  const fresh = { "cache-control": "no-cache" };
  const summary = (await getJson<Summary>(svc.url, "/v1/config/drift/summary?limit=100", fresh))
    .body;
  expect(summary.groups.map((g) => g.group)).toEqual(full.groups.map((g) => g.group));
  summary.groups.forEach((g, i) => {
    const f = full.groups[i]!;
    expect(g.keys).toEqual(
      f.keys.map((k) => ({
        key: k.key,
        latestRevision: k.latestRevision,
        latestSha256: k.latestSha256,
        inSync: k.inSync,
        drifted: k.drifted,
        missing: k.missing.length,
        revisions: k.revisions.map((r) => ({
          revision: r.revision,
          current: r.current,
          nodes: r.nodes.length,
          rejected: r.rejected.length,
        })),
        lastPublished: k.lastPublished,
        lastRejection: k.lastRejection,
      })),
    );
    expect(g.unknownKeys).toEqual(
      f.unknownKeys.map((u) => ({ key: u.key, nodes: u.nodes.length })),
    );
  });
  // The page's drifting nodes: exactly the live nodes the full drift lists off the latest.
  const off = new Set(
    full.groups.flatMap((g) =>
      g.keys.flatMap((k) => [
        ...k.missing.map((n) => `${g.group}/${n}`),
        ...k.revisions
          .filter((r) => !r.current)
          .flatMap((r) => r.nodes.map((n) => `${g.group}/${n}`)),
      ]),
    ),
  );
  expect(new Set(summary.page!.map((d) => `${d.group}/${d.node}`))).toEqual(off);
  expect(off.has("g1/b")).toBe(true);
  expect(await page.getAttribute('#nodes tr[data-node="g1/b"]', "data-drift")).toBe("db,svc"); // db missing, svc@1 behind
  // Without a page, no page part; a bad limit is a 400 naming it.
  expect((await api<Summary>("/v1/config/drift/summary")).page).toBeUndefined();
  const bad = await getJson<{ error: { message: string } }>(
    svc.url,
    "/v1/config/drift/summary?limit=0",
  );
  expect(bad.status).toBe(400);
  expect(bad.body.error.message).toMatch(/limit/);
});

test("/v1/uptime answers for a page of nodes what the per-node uptime answers", async () => {
  const p = await api<{ nodes: { group: string; node: string }[]; next: string | null }>(
    "/v1/nodes?limit=3",
  );
  const batch = await api<{ nodes: { group: string; node: string; uptimePct: number | null }[] }>(
    "/v1/uptime?window=24h&limit=3",
  );
  expect(batch.nodes.map((n) => `${n.group}/${n.node}`)).toEqual(
    p.nodes.map((n) => `${n.group}/${n.node}`),
  );
  for (const n of batch.nodes) {
    const one = await api<{ uptimePct: number | null }>(
      `/v1/nodes/${n.group}/${n.node}/uptime?window=24h`,
    );
    if (one.uptimePct === null) expect(n.uptimePct).toBeNull();
    else expect(Math.abs(n.uptimePct! - one.uptimePct)).toBeLessThan(0.01);
  }
  const rest = await api<{ nodes: { node: string }[] }>(`/v1/uptime?limit=100&cursor=${p.next}`);
  expect(rest.nodes).toHaveLength(2);
  expect((await getJson(svc.url, "/v1/uptime")).status).toBe(400); // limit is required
});
