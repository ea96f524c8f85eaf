import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getFreePort, spawnTs, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";

// The entry point as a real process: configured by KON_* variables, serving, writing its
// bootstrap token file without printing the token, and stopping cleanly (exit 0) on SIGTERM.

let nats: NatsServer;
let db: PostgresDatabase;
let child: ChildProcess | undefined;
const dir = mkdtempSync(join(tmpdir(), "kon-admin-main-"));

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
});
afterAll(async () => {
  if (child?.exitCode === null && child.pid) process.kill(child.pid, "SIGKILL");
  await Promise.all([nats?.stop(), db?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

test("main.ts starts from KON_* variables and exits 0 on SIGTERM", async () => {
  const port = await getFreePort();
  const bootstrap = join(dir, "secrets", "bootstrap");
  let output = "";
  child = spawnTs(join(__dirname, "..", "src", "main.ts"), [], {
    env: {
      ...process.env,
      ...nats.serviceEnv("admin"),
      KON_PG_URL: db.url,
      KON_ADMIN_PORT: String(port),
      KON_ADMIN_SIGNING_KEY_FILE: join(dir, "secrets", "signing.pem"),
      KON_ADMIN_BOOTSTRAP_FILE: bootstrap,
      KON_ADMIN_ARGON2_MEMORY_KIB: "1024",
      KON_ADMIN_ARGON2_TIME_COST: "1",
    },
  });
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const end = Date.now() + 30_000;
  let status = 0;
  while (Date.now() < end && status !== 200) {
    status = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      (r) => r.status,
      () => 0,
    );
    if (status !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  expect(status).toBe(200);
  expect(existsSync(bootstrap)).toBe(true);
  expect(output).toContain(bootstrap);
  expect(output).not.toMatch(/kb_[A-Za-z0-9_-]{20}/);

  const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  expect(output).toMatch(/SIGTERM: stopping/);
});
