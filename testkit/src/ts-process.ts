import { spawn } from "node:child_process";
import type { ChildProcess, SpawnOptions } from "node:child_process";
import { join } from "node:path";
import { killGroup, startWatchdog } from "./managed-process";

/** Path of the runner that executes a TypeScript entry point with workspace imports mapped to src. */
export const RUN_TS = join(__dirname, "run-ts.cjs");

/**
 * Starts `node run-ts.cjs <entry> ...args`: a real process running a package's TypeScript entry
 * (for tests that kill and restart a service). The caller owns the child: stop it by its pid.
 * `nodeArgs` go to node itself (e.g. `--cpu-prof`). Like testkit's servers it gets a watchdog, so it does not outlive a caller that is SIGKILLed.
 */
export function spawnTs(
  entry: string,
  args: string[] = [],
  opts: SpawnOptions & { nodeArgs?: string[] } = {},
): ChildProcess {
  const { nodeArgs = [], ...spawnOpts } = opts;
  const child = spawn(process.execPath, [...nodeArgs, RUN_TS, entry, ...args], {
    stdio: "pipe",
    ...spawnOpts,
  });
  if (child.pid !== undefined) {
    const dog = startWatchdog(child.pid, "SIGTERM", "");
    if (dog !== undefined) child.once("exit", () => killGroup(dog));
  }
  return child;
}
