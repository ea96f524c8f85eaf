import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { silentLogger } from "@konorkestra/sdk";
import { getFreePort, spawnTs, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { createAnalytics } from "../src";
import type { AnalyticsService } from "../src";
import type { ConfigChange } from "../src/model/config-change";
import { getJson } from "./helpers/get-json";
import { waitFor } from "./helpers/wait-for";
import { testAuth } from "./helpers/test-auth";

// End to end: the real config-loader watches a git work tree and publishes a change and a
// rejection; analytics (its own durable consumer, real TimescaleDB) shows both in the history,
// with the git author of the change and the file, line and column of the rejection.

let nats: NatsServer;
let db: PostgresDatabase;
let svc: AnalyticsService;
let loader: ChildProcess | undefined;
let root: string;

const git = (...args: string[]): string =>
  execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();

/**
 * Commits `content` as `file` without touching the work tree, then checks the file out: the
 * work tree changes only once the commit exists, as in a folder git-sync keeps (a save followed
 * by a separate `git commit` would race the loader's debounce and be published uncommitted).
 */
function commit(file: string, content: string, author: string): string {
  const blob = execFileSync("git", ["-C", root, "hash-object", "-w", "--stdin"], {
    input: content,
    encoding: "utf8",
  }).trim();
  git("update-index", "--add", "--cacheinfo", `100644,${blob},${file}`);
  git(
    "-c",
    "user.name=Test",
    "-c",
    "user.email=test@example.org",
    "commit",
    "-qm",
    file,
    `--author=${author}`,
  );
  git("checkout", "--", file);
  return git("rev-parse", "HEAD");
}

beforeAll(async () => {
  root = realpathSync(mkdtempSync(join(tmpdir(), "kon-cfg-history-")));
  mkdirSync(join(root, "shop"));
  git("init", "-q");
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
  svc = await createAnalytics({
    ...testAuth(),
    ...nats.clientOptions(),
    pgUrl: db.url,
    port: 0,
    batchMs: 50,
    maintenanceIntervalMs: 3_600_000,
    logger: silentLogger,
  });
});

afterAll(async () => {
  if (loader && loader.exitCode === null && loader.signalCode === null) {
    const exited = new Promise((r) => loader!.once("exit", r));
    loader.kill("SIGTERM");
    await exited;
  }
  await svc?.close();
  await Promise.all([nats?.stop(), db?.stop()]);
  if (root) rmSync(root, { recursive: true, force: true });
});

const history = async (query: string): Promise<ConfigChange[]> => {
  const { status, body } = await getJson<{ changes: ConfigChange[] }>(
    svc.url,
    `/v1/config/history?group=shop&${query}`,
  );
  expect(status).toBe(200);
  return body.changes;
};

test("a change and a rejection by the config-loader show in the history", async () => {
  const first = commit("shop/cart.yaml", "limit: 10\n", "Grace <grace@example.org>");
  // The real config-loader as its own process (a service never imports another service).
  const port = await getFreePort();
  loader = spawnTs(join(__dirname, "..", "..", "config-loader", "src", "main.ts"), [], {
    env: {
      ...process.env,
      KON_CONFIG_DIR: root,
      ...nats.clientEnv(),
      KON_LOADER_PORT: String(port),
      KON_DEBOUNCE_MS: "50",
      KON_DEBOUNCE_MAX_MS: "500",
      KON_RESYNC_MS: "0",
      KON_GIT: "true",
      KON_LOADER_ID: "e2e-loader",
    },
  });
  // Its start compiles the loader's TypeScript on the fly: 15 s and more on a loaded machine.
  await waitFor(
    "config-loader healthy",
    () =>
      fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      ),
    60_000,
  );

  const [published] = await waitFor("published event", async () => {
    const c = await history("kind=published");
    return c.length === 1 && c;
  });
  expect(published).toMatchObject({
    key: "cart",
    kind: "published",
    sourcePath: "shop/cart.yaml",
    author: "Grace <grace@example.org>",
    gitCommit: first,
    publishedBy: "e2e-loader",
    error: null,
  });
  expect(published!.revision).toBeGreaterThan(0);

  // A broken save: the key keeps its value, the loader says where and why.
  writeFileSync(join(root, "shop/cart.yaml"), "limit: 10\n  bad: [\n");
  const [rejected] = await waitFor("rejected event", async () => {
    const c = await history("kind=rejected");
    return c.length === 1 && c;
  });
  expect(rejected).toMatchObject({
    key: "cart",
    kind: "rejected",
    revision: null,
    nodeId: null,
    error: { file: "shop/cart.yaml", code: "syntax" },
  });
  expect(rejected!.error!.line).toBeGreaterThan(0);
  expect(rejected!.error!.reason).not.toBe("");

  // Fixed and committed by someone else: a second published revision, newest first.
  const second = commit("shop/cart.yaml", "limit: 20\n", "Linus <linus@example.org>");
  const all = await waitFor("second change", async () => {
    const c = await history("");
    return c.length === 3 && c;
  });
  expect(all.map((c) => [c.kind, c.author, c.gitCommit])).toEqual([
    ["published", "Linus <linus@example.org>", second],
    ["rejected", null, null],
    ["published", "Grace <grace@example.org>", first],
  ]);
  const rejections = await getJson<{ changes: ConfigChange[] }>(
    svc.url,
    "/v1/config/rejections?group=shop",
  );
  expect(rejections.body.changes.map((c) => c.eventId)).toEqual([rejected!.eventId]);
}, 120_000); // the loader process starts in up to 60 s on a loaded machine
