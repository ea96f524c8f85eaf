import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { constants } from "node:os";
import type { Logger } from "@konorkestra/sdk";

/** How the child ended for good (not a restart `kon run` made). */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** `kon run` was told to stop (SIGINT/SIGTERM) and passed it on before the child ended. */
  readonly stopRequested: boolean;
  /** The command could not be started at all. */
  readonly spawnError?: string;
}

/** The exit code a shell gives for `exit`: the code, or 128 + the signal's number. */
export function exitCodeOf(exit: ChildExit): number {
  if (exit.spawnError !== undefined) return 127;
  if (exit.code !== null) return exit.code;
  return 128 + (exit.signal ? (constants.signals[exit.signal] ?? 0) : 0);
}

/** Signals `kon run` passes on to its child. */
export const FORWARDED: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * The one child of `kon run`: started, signalled, restarted (SIGTERM, then SIGKILL after a grace
 * period, then started again with a fresh environment), and its final end reported once.
 */
export class ChildSupervisor {
  private child: ChildProcess | undefined;
  private restarting = false;
  private stopRequested = false;
  private resolveExit!: (e: ChildExit) => void;
  readonly exited: Promise<ChildExit>;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly forward = (s: NodeJS.Signals): void => {
    if (s === "SIGHUP") return this.signal(s);
    // A second SIGINT/SIGTERM, or a child still there after the grace period, gets SIGKILL: a
    // child that ignores the stop signal must not keep `kon run` (and its node) alive forever.
    if (this.stopRequested) return this.kill(`a second ${s}`);
    this.stopRequested = true;
    this.signal(s);
    this.killTimer ??= setTimeout(() => this.kill(`${this.graceMs} ms after ${s}`), this.graceMs);
  };

  constructor(
    private readonly command: string,
    private readonly args: readonly string[],
    private readonly env: () => NodeJS.ProcessEnv,
    private readonly graceMs: number,
    private readonly logger: Logger,
  ) {
    this.exited = new Promise((r) => (this.resolveExit = r));
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the child and begins forwarding SIGINT, SIGTERM and SIGHUP to it. */
  start(): void {
    for (const s of FORWARDED) process.on(s, this.forward);
    this.spawnChild();
  }

  /** Sends `signal` to the running child (nothing when there is none). */
  signal(signal: NodeJS.Signals): void {
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) c.kill(signal);
  }

  private kill(why: string): void {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    this.logger.warn(`pid ${c.pid} still running ${why}; sending SIGKILL`);
    c.kill("SIGKILL");
  }

  /** Stops the child (SIGTERM, SIGKILL after the grace period) and starts it again. */
  async restart(): Promise<void> {
    const c = this.child;
    // Already ended on its own: that end was reported as final.
    if (!c || this.stopRequested || c.exitCode !== null || c.signalCode !== null) return;
    this.restarting = true;
    const gone = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const timer = setTimeout(() => this.kill(`${this.graceMs} ms after SIGTERM`), this.graceMs);
    await gone;
    clearTimeout(timer);
    this.restarting = false;
    if (this.stopRequested) {
      // Told to stop while restarting: that end is the final one.
      this.finish({ code: c.exitCode, signal: c.signalCode, stopRequested: true });
      return;
    }
    this.spawnChild();
  }

  private spawnChild(): void {
    const child = spawn(this.command, [...this.args], { stdio: "inherit", env: this.env() });
    this.child = child;
    child.once("error", (err) => {
      if (child.pid === undefined) {
        this.finish({ code: null, signal: null, stopRequested: false, spawnError: err.message });
      }
    });
    child.once("exit", (code, signal) => {
      if (this.restarting) return;
      this.finish({ code, signal, stopRequested: this.stopRequested });
    });
  }

  private finish(exit: ChildExit): void {
    clearTimeout(this.killTimer);
    for (const s of FORWARDED) process.off(s, this.forward);
    this.resolveExit(exit);
  }
}
