import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { spawnTs } from "@konorkestra/testkit";
import { benchAuthHeaders } from "./analytics-process";

/** What the crowd process measured. */
export interface CrowdOutcome {
  /** Milliseconds to the last byte, per measured request. */
  readonly latencies: number[];
  readonly rounds: number;
  readonly retries: number;
  /** The crowd process's own CPU from its first request to its last answer, and that time. */
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
  readonly pid: number;
}

/** The crowd as its own process (see crowd-main.ts); `finish` ends it after its current round. */
export interface CrowdProcess {
  readonly pid: number;
  finish(): Promise<CrowdOutcome>;
}

const MAIN = join(__dirname, "crowd-main.ts");

/**
 * Starts `clients` concurrent clients asking `path` of `baseUrl` in rounds, in a process of their
 * own: in the bench's process their event-loop delay was counted in the lag its probe measures
 * (the probe polls every 10 ms and the publisher runs on the same loop).
 */
export function startCrowdProcess(
  baseUrl: string,
  path: string,
  clients: number,
  headers: Record<string, string>,
): CrowdProcess {
  const spec = JSON.stringify({
    baseUrl,
    path,
    clients,
    headers: { ...benchAuthHeaders(), ...headers },
  });
  const child: ChildProcess = spawnTs(MAIN, [spec], { stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-5000)));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    pid: child.pid ?? -1,
    finish: async () => {
      child.stdin?.end(); // the child stops after the round under way
      const code = await exited;
      const line = stdout.trim().split("\n").pop() ?? "";
      if (code !== 0 || !line.startsWith("{")) {
        throw new Error(`crowd process failed (exit ${code}):\n${stderr}`);
      }
      const r = JSON.parse(line) as Omit<CrowdOutcome, "pid">;
      return { ...r, pid: child.pid ?? -1 };
    },
  };
}
