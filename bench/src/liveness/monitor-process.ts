import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { spawnTs } from "@konorkestra/testkit";

const MAIN = join(__dirname, "..", "..", "..", "heartbeat", "src", "main.ts");

/** The liveness monitor (`heartbeat/src/main.ts`) in a real process of its own. */
export interface MonitorProcess {
  readonly pid: number;
  readonly url: string;
  /** KON_* settings it was given on top of the inherited environment. */
  readonly env: Readonly<Record<string, string>>;
  /** The last 20,000 characters it wrote (stdout and stderr), for failure reports. */
  output(): string;
  /** Lines it wrote to stderr (its warnings and errors). */
  warnings(): number;
  /** The last of those lines. */
  lastWarnings(count: number): string[];
  /** SIGTERM and wait for the exit (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

interface Health {
  ok?: boolean;
  current?: boolean;
}

/**
 * Starts the monitor with `env` and waits until its HTTP server listens and its heartbeat
 * consumer is current (`/healthz`), so that the first heartbeats are judged live. The wait is
 * long: the monitor runs from source (run-ts compiles it first), which took over 60 s on the
 * shared 2-core machine at load 30+ (two monitors starting at once).
 */
export async function startMonitorProcess(
  env: Record<string, string>,
  timeoutMs = 180_000,
  nodeArgs: string[] = [],
): Promise<MonitorProcess> {
  const fullEnv = { KON_MONITOR_PORT: "0", KON_MONITOR_HOST: "127.0.0.1", ...env };
  const child: ChildProcess = spawnTs(MAIN, [], {
    env: { ...process.env, ...fullEnv },
    nodeArgs,
  });
  let output = "";
  let warnings = 0;
  let errTail = "";
  const keep = (d: Buffer): void => {
    output = (output + d.toString()).slice(-20_000);
  };
  child.stdout?.on("data", keep);
  // The monitor logs warnings and errors (only those) to stderr.
  child.stderr?.on("data", (d: Buffer) => {
    const text = d.toString();
    warnings += (text.match(/\n/g) ?? []).length;
    errTail = (errTail + text).slice(-4000);
    keep(d);
  });
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const gone = (): boolean => child.exitCode !== null || child.signalCode !== null;
  // Whatever happens to the bench, its monitor must not outlive it.
  const killOnExit = (): void => void (gone() || child.kill("SIGKILL"));
  process.once("exit", killOnExit);
  let url = "";
  const proc: MonitorProcess = {
    pid: child.pid ?? -1,
    get url() {
      return url;
    },
    env: fullEnv,
    output: () => output,
    warnings: () => warnings,
    lastWarnings: (count) => errTail.trim().split("\n").slice(-count),
    stop: async () => {
      process.removeListener("exit", killOnExit);
      if (gone()) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (gone()) throw new Error(`monitor exited at start:\n${output}`);
    url ||= /listening on (http:\/\/[0-9.:]+)/.exec(output)?.[1] ?? "";
    if (url) {
      const health: Health = await fetch(`${url}/healthz`).then(
        async (r) => (await r.json()) as Health,
        () => ({}),
      );
      if (health.ok && health.current) return proc;
    }
    if (Date.now() > deadline) {
      await proc.stop();
      throw new Error(`monitor not current within ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
