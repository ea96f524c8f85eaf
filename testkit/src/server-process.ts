import { ManagedProcess } from "./managed-process";
import type { LaunchSpec } from "./managed-process";
import type { ScratchDir } from "./scratch-dir";

/**
 * The life cycle every testkit server shares: start from a launch spec, stop cleanly, crash it,
 * restart it on the same ports and data, and finally remove its scratch directory. A subclass
 * only says how its server is launched.
 */
export abstract class ServerProcess {
  private proc: ManagedProcess | undefined;

  constructor(protected readonly dir: ScratchDir) {}

  /** How to launch the server (the scratch directory is added here). */
  protected abstract launchSpec(): Omit<LaunchSpec, "scratchDir">;

  get pid(): number {
    return this.proc?.pid ?? -1;
  }

  get running(): boolean {
    return this.proc?.running ?? false;
  }

  async start(): Promise<void> {
    this.proc = await ManagedProcess.launch({
      ...this.launchSpec(),
      scratchDir: this.dir.hostPath,
    });
  }

  /** Clean shutdown; data is kept for `restart`. */
  async shutdown(): Promise<void> {
    await this.proc?.stop();
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    await this.proc?.kill();
  }

  /** Starts again on the same ports with the same data (after `shutdown` or `kill`). */
  async restart(): Promise<void> {
    if (this.running) await this.shutdown();
    await this.start();
  }

  /** Stops the server and removes its files. */
  async stop(): Promise<void> {
    await this.shutdown();
    this.dir.remove();
  }
}
