import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { getFreePort, sharedTestTokens, spawnTs } from "@konorkestra/testkit";

let authHeaders: Record<string, string> | undefined;

/**
 * `Authorization` with a read token the benchmark's analytics trusts (its public key is given to
 * the process below): every API request a benchmark times carries it, as a dashboard's does.
 * One token per bench process, as a dashboard holds one (a new token per request made every
 * request pay the Ed25519 check that the API's verified-token cache spares a real client).
 */
export function benchAuthHeaders(): Record<string, string> {
  return (authHeaders ??= sharedTestTokens().header(["read"]));
}

/** The analytics service running as its own process, as `make up` runs it. */
export interface AnalyticsProcess {
  readonly pid: number;
  readonly url: string;
  /** KON_* settings given to the process on top of the inherited environment. */
  readonly env: Readonly<Record<string, string>>;
  /** New heartbeat rows committed so far, by the ingester's own counter (`/v1/pipeline`). */
  heartbeatRows(): Promise<number>;
  /** What the process wrote to stdout and stderr (for a failure report). */
  output(): string;
  /** SIGTERM and wait (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

const MAIN = join(__dirname, "..", "..", "..", "analytics", "src", "main.ts");

interface Pipeline {
  streams: { kind: string; rowsTotal: number }[];
}

/**
 * Starts `analytics/src/main.ts` (NATS reached through `natsEnv`, e.g. the server's
 * `serviceEnv("analytics")`, more settings in `extraEnv`, e.g. `KON_ANALYTICS_ROLES`) and waits
 * until /healthz answers 200.
 */
export async function startAnalyticsProcess(
  natsEnv: Record<string, string>,
  pgUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<AnalyticsProcess> {
  const port = await getFreePort();
  const env = {
    ...natsEnv,
    ...extraEnv,
    KON_PG_URL: pgUrl,
    KON_ANALYTICS_PORT: String(port),
    KON_AUTH_PUBLIC_KEY_FILE: sharedTestTokens().publicKeyFile,
  };
  // KON_BENCH_ANALYTICS_NODE_ARGS: flags for the analytics' node (e.g. "--cpu-prof"), to profile it.
  const nodeArgs = (process.env.KON_BENCH_ANALYTICS_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const child: ChildProcess = spawnTs(MAIN, [], { env: { ...process.env, ...env }, nodeArgs });
  let output = "";
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((r) =>
    child.once("exit", (code, signal) => {
      // Said in the output, so that a report of a process that died on its own tells how.
      keep(Buffer.from(`\n[analytics process exited: code ${code}, signal ${signal}]\n`));
      r();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  const proc: AnalyticsProcess = {
    pid: child.pid ?? -1,
    url,
    env,
    heartbeatRows: async () => {
      const res = await fetch(`${url}/v1/pipeline`, { headers: benchAuthHeaders() });
      const body = (await res.json()) as Pipeline;
      return body.streams.find((s) => s.kind === "heartbeats")?.rowsTotal ?? 0;
    },
    output: () => output,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`analytics exited at start:\n${output}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return proc;
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`analytics not healthy within 60 s:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
