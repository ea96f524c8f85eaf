import { join } from "node:path";
import { getFreePort, spawnTs } from "@konorkestra/testkit";
import type { RunningService } from "./service-slot";

const MAIN = join(__dirname, "..", "..", "..", "config-loader", "src", "main.ts");

/**
 * Starts `config-loader/src/main.ts` as its own process (NATS reached through `env`, e.g. the
 * server's `serviceEnv("config-loader")`, plus KON_CONFIG_DIR) and waits until it listens.
 * Its /healthz may still be 503 then (NATS away, first reconcile running): the drill's recovery
 * waits for 200 separately.
 */
export async function startLoaderProcess(env: Record<string, string>): Promise<RunningService> {
  const port = await getFreePort();
  const child = spawnTs(MAIN, [], {
    env: { ...process.env, ...env, KON_LOADER_PORT: String(port), KON_LOADER_HOST: "127.0.0.1" },
  });
  let output = "";
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const url = `http://127.0.0.1:${port}`;
  const proc: RunningService = {
    pid: child.pid ?? -1,
    url,
    output: () => output,
    stop: async () => {
      if (gone()) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (gone()) throw new Error(`config-loader exited at start:\n${output}`);
    const listening = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) }).then(
      () => true,
      () => false,
    );
    if (listening) return proc;
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`config-loader not listening within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
