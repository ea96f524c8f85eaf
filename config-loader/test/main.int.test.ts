import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { getFreePort, spawnTs } from "@konorkestra/testkit";
import { Harness, put, text, waitFor } from "./loader-harness";

describe("config-loader main (a real process)", () => {
  let h: Harness;
  let child: ChildProcess | undefined;
  beforeAll(async () => {
    h = await Harness.start();
  });
  afterAll(async () => {
    if (child?.pid && child.exitCode === null) process.kill(child.pid, "SIGKILL");
    await h?.stop();
  });

  it("runs from KON_* variables, publishes, serves /healthz, and stops cleanly on SIGTERM", async () => {
    const root = h.tempDir();
    put(root, "main1/app.yaml", "greeting: hello\n");
    const port = await getFreePort();
    let output = "";
    child = spawnTs(join(__dirname, "../src/main.ts"), [], {
      env: {
        ...process.env,
        KON_CONFIG_DIR: root,
        ...h.nats.clientEnv(),
        KON_LOADER_PORT: String(port),
        KON_RESYNC_MS: "0",
      },
    });
    child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((r) => child!.once("exit", (code) => r(code)));

    const e = await waitFor(
      async () => (await h.entries("main1").catch(() => undefined))?.get("app"),
      "published",
      20_000,
    );
    expect(text(e.entry)).toBe('{"greeting":"hello"}');
    expect(e.entry.publishedBy).toMatch(/^config-loader:/);
    await waitFor(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    }, "healthz 200");

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output).toMatch(/\[config-loader\] SIGTERM: stopping/);
    expect(output).toMatch(/\[config-loader\] stopped/);
  });

  it("exits with a clear message when an option is invalid", async () => {
    const bad = spawnTs(join(__dirname, "../src/main.ts"), [], {
      env: { ...process.env, KON_CONFIG_DIR: "/tmp", KON_HISTORY: "5" },
    });
    let err = "";
    bad.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => bad.once("exit", (c) => r(c)));
    expect(code).toBe(1);
    expect(err).toMatch(/cannot start: invalid option history: at least 32 revisions/);
  });
});
