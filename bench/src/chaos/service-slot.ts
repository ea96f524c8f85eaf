/** A running service process as its start helper returns it (monitor, analytics, loader). */
export interface RunningService {
  readonly pid: number;
  readonly url: string;
  /** SIGTERM and wait (the helpers SIGKILL after 15 s); resolves at once when already gone. */
  stop(): Promise<void>;
  /** The process's recent output, for a failure report. */
  output(): string;
}

/**
 * One service of the stack, started by `launch` and crashable: `kill9()` sends SIGKILL by pid
 * (as a crash would: no shutdown hook runs) and waits for the exit; `start()` launches a new
 * process with the same settings. The output of dead processes is kept for the report.
 */
export class ServiceSlot {
  private running: RunningService | undefined;
  private previousOutput = "";
  /** Processes started so far (1 + restarts). */
  starts = 0;

  constructor(
    readonly name: string,
    private readonly launch: () => Promise<RunningService>,
    /** Whether the running process answers healthy (its own /healthz rule). */
    private readonly isHealthy: (url: string) => Promise<boolean>,
  ) {}

  get pid(): number {
    return this.running?.pid ?? -1;
  }

  get url(): string {
    return this.running?.url ?? "";
  }

  async start(): Promise<void> {
    if (this.running) throw new Error(`${this.name} is already running (pid ${this.pid})`);
    this.running = await this.launch();
    this.starts++;
  }

  async kill9(): Promise<void> {
    const r = this.running;
    if (!r) return;
    try {
      process.kill(r.pid, "SIGKILL");
    } catch {
      // already gone: a crash before ours
    }
    await r.stop();
    this.previousOutput += r.output();
    this.running = undefined;
  }

  async healthy(): Promise<boolean> {
    if (!this.running) return false;
    return this.isHealthy(this.running.url).catch(() => false);
  }

  async stop(): Promise<void> {
    const r = this.running;
    this.running = undefined;
    if (r) {
      await r.stop();
      this.previousOutput += r.output();
    }
  }

  /** Output of every process of this slot so far (the last 20,000 characters). */
  output(): string {
    return (this.previousOutput + (this.running?.output() ?? "")).slice(-20_000);
  }
}

/** GET `url` and give its status and JSON body (undefined body when it is not JSON). */
export async function getHealth(url: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) });
  const body: unknown = await res.json().catch(() => undefined);
  return { status: res.status, body };
}
