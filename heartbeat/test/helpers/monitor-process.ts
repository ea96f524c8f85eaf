import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { spawnTs } from "@konorkestra/testkit";

const MAIN = join(__dirname, "..", "..", "src", "main.ts");

/** A monitor running `src/main.ts` in a real process of its own, to be killed and restarted. */
export class MonitorProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  /** Everything it wrote, for failure messages. */
  output = "";
  url = "";

  constructor(private readonly env: Record<string, string>) {}

  get pid(): number {
    return this.child?.pid ?? -1;
  }

  /**
   * Starts it and waits until its HTTP server listens. A start whose first NATS connect timed
   * out (2 s; missed at a CI load of 15-24) exits 1; it is started again, as a supervisor
   * would, at most twice.
   */
  async start(timeoutMs = 60_000): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const from = this.output.length;
      try {
        return await this.startOnce(timeoutMs);
      } catch (err) {
        const said = this.output.slice(from);
        if (attempt >= 3 || !/failed to start: .*TimeoutError: timeout/.test(said)) throw err;
        console.warn(`monitor process: first connect timed out, starting it again`);
      }
    }
  }

  private async startOnce(timeoutMs: number): Promise<void> {
    const child = spawnTs(MAIN, [], {
      // KON_AUTH=off: these tests read the nodes API without tokens (api-auth tests those).
      env: { ...process.env, KON_MONITOR_PORT: "0", KON_AUTH: "off", ...this.env },
    });
    this.child = child;
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    const from = this.output.length;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`monitor did not start:\n${this.output}`)),
        timeoutMs,
      );
      const onData = (buf: Buffer): void => {
        this.output += buf.toString();
        const m = /listening on (http:\/\/[0-9.:]+)/.exec(this.output.slice(from));
        if (m && !this.url) {
          this.url = m[1]!;
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on("data", onData);
      child.stderr!.on("data", onData);
      void this.exited!.then((code) => {
        clearTimeout(timer);
        reject(new Error(`monitor exited with ${code}:\n${this.output}`));
      });
    });
  }

  /** SIGKILL, as a crash would; waits for the exit. */
  async kill(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill("SIGKILL");
    await this.exited;
    this.url = "";
  }

  /** SIGTERM (graceful) and wait for the exit code. */
  async stop(): Promise<number | null> {
    if (!this.child || this.child.exitCode !== null) return this.child?.exitCode ?? null;
    this.child.kill("SIGTERM");
    return this.exited!;
  }

  /** GET a JSON endpoint of the monitor. */
  async get<T>(path: string): Promise<T> {
    const res = await fetch(this.url + path);
    return (await res.json()) as T;
  }
}
