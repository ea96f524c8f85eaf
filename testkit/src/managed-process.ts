import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { lookupUser } from "./scratch-dir";

/** How to start one server process and know that it is ready. */
export interface LaunchSpec {
  /** Short name for messages: "nats", "postgres", "redis". */
  name: string;
  command: string;
  args: string[];
  /** Run inside this chroot (as `user`); "" or undefined runs the command directly. */
  chrootDir?: string;
  user?: string;
  /** stdout and stderr are appended here; readiness is read from it. */
  logFile: string;
  /** A line in the log, written after this start, that says the server is ready. */
  readyPattern: RegExp;
  /** Signal that asks for a fast clean shutdown (PostgreSQL: SIGINT). @default "SIGTERM" */
  stopSignal?: NodeJS.Signals;
  /** @default 30000 */
  readyTimeoutMs?: number;
  /** Removed by the watchdog after it had to stop the server because its owner died. */
  scratchDir?: string;
  env?: NodeJS.ProcessEnv;
}

const live = new Set<ManagedProcess>();
let exitHookInstalled = false;

/** On a normal exit of the owning process, whatever a test forgot to stop is stopped. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const p of live) p.killNow();
  });
}

/**
 * The watchdog is a detached `sh` loop that outlives its owner. When the owner dies (killed, a
 * crashed jest worker, Ctrl-C) it stops the server by pid, SIGKILLs it after 10 s, and removes
 * its scratch directory. When the server exits first, the watchdog just ends.
 */
export function startWatchdog(
  serverPid: number,
  signal: NodeJS.Signals,
  scratchDir: string,
): number | undefined {
  const script =
    'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 0.2; done; ' +
    'kill -0 "$2" 2>/dev/null || exit 0; kill -s "$3" "$2" 2>/dev/null; i=0; ' +
    'while [ $i -lt 50 ] && kill -0 "$2" 2>/dev/null; do sleep 0.2; i=$((i+1)); done; ' +
    'kill -s KILL "$2" 2>/dev/null; sleep 0.2; [ -n "$4" ] && rm -rf "$4"; exit 0';
  const dog = spawn(
    "sh",
    [
      "-c",
      script,
      "kon-testkit-watchdog",
      String(process.pid),
      String(serverPid),
      signal.replace(/^SIG/, ""),
      scratchDir,
    ],
    { detached: true, stdio: "ignore" },
  );
  dog.unref();
  return dog.pid;
}

/** A server started by testkit: its pid, its log, and a stop that waits for it to be gone. */
export class ManagedProcess {
  readonly pid: number;
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly spec: LaunchSpec,
    private readonly child: ChildProcess,
  ) {
    this.pid = child.pid!;
    this.exited = new Promise((resolve) => {
      child.once("exit", (code, sig) => {
        this.exitCode = code ?? (sig ? -1 : null);
        live.delete(this);
        resolve(this.exitCode);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Starts the process and resolves once its log shows `readyPattern`. */
  static async launch(spec: LaunchSpec): Promise<ManagedProcess> {
    installExitHook();
    const fd = openSync(spec.logFile, "a");
    const offset = statSync(spec.logFile).size;
    // Numeric ids from the chroot's own passwd: the host may have no such user, or another uid.
    const userspec =
      spec.chrootDir && spec.user ? lookupUser(spec.chrootDir, spec.user) : undefined;
    const [cmd, args] = spec.chrootDir
      ? [
          "chroot",
          [
            ...(userspec ? [`--userspec=${userspec.uid}:${userspec.gid}`] : []),
            spec.chrootDir,
            spec.command,
            ...spec.args,
          ],
        ]
      : [spec.command, spec.args];
    let child: ChildProcess;
    try {
      child = spawn(cmd, args, { stdio: ["ignore", fd, fd], env: spec.env ?? process.env });
    } finally {
      closeSync(fd);
    }
    if (child.pid === undefined) {
      const err = await new Promise<Error>((resolve) => child.once("error", resolve));
      throw new Error(`testkit: cannot start ${spec.name} (${cmd}): ${err.message}`);
    }
    const proc = new ManagedProcess(spec, child);
    live.add(proc);
    const dog = startWatchdog(proc.pid, spec.stopSignal ?? "SIGTERM", spec.scratchDir ?? "");
    // Once the server is gone its watchdog has nothing to guard: end it (and its sleep) at once,
    // so that nothing of ours outlives a test run.
    if (dog !== undefined) void proc.exited.then(() => killGroup(dog));
    try {
      await proc.waitReady(offset);
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return proc;
  }

  private async waitReady(offset: number): Promise<void> {
    const deadline = Date.now() + (this.spec.readyTimeoutMs ?? 30_000);
    for (;;) {
      const log = readFrom(this.spec.logFile, offset);
      if (this.spec.readyPattern.test(log)) return;
      if (!this.running || Date.now() > deadline) {
        const why = this.running
          ? "did not become ready in time"
          : `exited with code ${this.exitCode}`;
        throw new Error(
          `testkit: ${this.spec.name} ${why}; log ${this.spec.logFile}:\n${tail(log, 15)}`,
        );
      }
      await sleep(20);
    }
  }

  /** Asks the server to stop, waits up to `timeoutMs`, then kills it. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (!this.running) return;
    this.signal(this.spec.stopSignal ?? "SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), timeoutMs);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL, as a crash would. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal("SIGKILL");
    await this.exited;
  }

  /** Synchronous last resort for process exit. */
  killNow(): void {
    this.signal("SIGKILL");
  }

  private signal(sig: NodeJS.Signals): void {
    try {
      process.kill(this.pid, sig);
    } catch {
      // already gone
    }
  }

  /** The log written since `offset` bytes (all of it by default). */
  log(offset = 0): string {
    return readFrom(this.spec.logFile, offset);
  }
}

function readFrom(file: string, offset: number): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return "";
  }
  try {
    const size = statSync(file).size;
    if (size <= offset) return "";
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    return buf.toString("utf8");
  } finally {
    closeSync(fd);
  }
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Ends a detached process group (a watchdog and its sleep). */
export function killGroup(leaderPid: number): void {
  try {
    process.kill(-leaderPid, "SIGTERM");
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a process with this pid exists (signal 0 probes without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
