import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { getFreePort, spawnTs, startNats, startPostgres } from "@konorkestra/testkit";
import type { NatsServer, PostgresDatabase } from "@konorkestra/testkit";
import { countRows } from "./helpers/count-rows";
import { FleetSimulator } from "./helpers/fleet-simulator";
import { getJson } from "./helpers/get-json";
import { waitFor } from "./helpers/wait-for";
import { testAuthEnv } from "./helpers/test-auth";

// The entry point as a real process: configured by KON_* variables, ingesting, and stopping
// cleanly (exit 0) on SIGTERM.

let nats: NatsServer;
let db: PostgresDatabase;
let child: ChildProcess | undefined;

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startPostgres()]);
});

afterAll(async () => {
  if (child?.exitCode === null && child.pid) process.kill(child.pid, "SIGKILL");
  await Promise.all([nats?.stop(), db?.stop()]);
});

test("main.ts starts from KON_* variables and exits 0 on SIGTERM", async () => {
  const port = await getFreePort();
  let output = "";
  child = spawnTs(join(__dirname, "..", "src", "main.ts"), [], {
    env: {
      ...process.env,
      ...nats.clientEnv(),
      ...testAuthEnv(),
      KON_PG_URL: db.url,
      KON_ANALYTICS_PORT: String(port),
      KON_INGEST_BATCH_MS: "50",
    },
  });
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(
    `healthz (output: ${output})`,
    async () => (await getJson(base, "/healthz")).status === 200,
    30_000,
  );

  const sim = await FleetSimulator.connect(nats.clientOptions());
  try {
    await sim.heartbeat("gm", "n1", { seq: 1 });
    await waitFor(
      "row",
      async () => (await countRows(db.url, "heartbeats", "stream_seq")).rows === 1,
    );
  } finally {
    await sim.close();
  }

  const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  expect(output).toMatch(/SIGTERM: stopping/);
});
