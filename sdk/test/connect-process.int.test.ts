import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { ensureConfigBucket, wireNames } from "../src/internal";
import { spawnTs, startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { putConfig } from "./helpers/put-config";

const MAIN = join(__dirname, "fixtures", "read-flag-main.ts");

async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** Runs the fixture service to its end: exit code, stdout, stderr. */
async function run(env: Record<string, string>) {
  const child = spawnTs(MAIN, [], { env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => child.once("exit", r));
  return { code, out, err };
}

describe("a service process pointed at a wrong NATS address (issue 11 item 10)", () => {
  let nats: NatsServer;
  let stateDir: string;
  beforeAll(async () => {
    nats = await startNats();
    const admin = await connect(nats.clientOptions());
    await ensureConfigBucket(admin, wireNames(), "p1");
    await putConfig(admin, "p1", "flag", { n: 5 });
    await admin.close();
    stateDir = mkdtempSync(join(tmpdir(), "kon-process-"));
  });
  afterAll(async () => {
    await nats?.stop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("exits non-zero with a clear error instead of running on a stale snapshot", async () => {
    const env = {
      ...nats.clientEnv(),
      KON_GROUP: "p1",
      KON_NODE_ID: "proc-1",
      XDG_STATE_HOME: stateDir,
    };
    delete (env as Record<string, string | undefined>).KON_SNAPSHOT_DIR;
    const good = await run(env);
    expect(good.code).toBe(0);
    expect(good.out).toContain('running on nats {"n":5}\n');

    const port = await deadPort();
    const wrong = await run({ ...env, KON_SERVERS: `nats://127.0.0.1:${port}` });
    expect(wrong.code).toBe(1);
    expect(wrong.out).not.toContain("running on");
    expect(wrong.err).toContain(
      `NATS_UNREACHABLE: cannot reach NATS at nats://127.0.0.1:${port} (KON_SERVERS or option servers) within 3000 ms: connection refused (ECONNREFUSED).`,
    );
    expect(wrong.err).toContain("written while connected to other NATS servers");
    // The password of the real server never shows.
    expect(wrong.err).not.toContain(nats.clientEnv().KON_PASSWORD);
  });
});
