import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChildSupervisor, exitCodeOf } from "../src/run/child-supervisor";
import type { Logger } from "@konorkestra/sdk";

// kon run's child handling with real processes (sh): a child that ignores SIGTERM must not keep
// `kon run` alive. The stop signal is delivered to kon run's listeners with process.emit, as the
// kernel would, without signalling the test runner itself.
const warnings: string[] = [];
const logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (m: string) => warnings.push(m),
  error: () => undefined,
} as unknown as Logger;

const dir = mkdtempSync(join(tmpdir(), "kon-child-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A shell that ignores SIGTERM and SIGINT, and says so by making `ready` once the trap is set. */
function stubbornArgs(ready: string): string[] {
  return ["-c", `trap "" TERM INT; : > "${ready}"; while :; do sleep 0.1; done`];
}

/** Waits until the child has made its file (its signal handling is in place from then on). */
async function until(file: string): Promise<void> {
  while (!existsSync(file)) await settle(20);
}

let n = 0;
async function startStubborn(graceMs: number): Promise<ChildSupervisor> {
  const ready = join(dir, `ready-${++n}`);
  const s = new ChildSupervisor(
    "sh",
    stubbornArgs(ready),
    () => ({ PATH: process.env.PATH }),
    graceMs,
    logger,
  );
  s.start();
  await until(ready);
  return s;
}

async function settle(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

describe("ChildSupervisor stop", () => {
  beforeEach(() => (warnings.length = 0));

  it("kills a child that ignores SIGTERM once the grace period has passed", async () => {
    const s = await startStubborn(300);
    process.emit("SIGTERM", "SIGTERM");
    const exit = await s.exited;
    expect(exit).toEqual({ code: null, signal: "SIGKILL", stopRequested: true });
    expect(exitCodeOf(exit)).toBe(137);
    expect(warnings.join("\n")).toMatch(/300 ms after SIGTERM; sending SIGKILL/);
  });

  it("kills at once on a second SIGINT, without waiting for the grace period", async () => {
    const s = await startStubborn(60_000);
    const t0 = Date.now();
    process.emit("SIGINT", "SIGINT");
    await settle(100);
    process.emit("SIGINT", "SIGINT");
    const exit = await s.exited;
    expect(exit.signal).toBe("SIGKILL");
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(warnings.join("\n")).toMatch(/a second SIGINT/);
  });

  it("lets a child that obeys SIGTERM end by itself, without SIGKILL", async () => {
    const s = new ChildSupervisor(
      "sh",
      ["-c", "sleep 30"],
      () => ({ PATH: process.env.PATH }),
      5_000,
      logger,
    );
    s.start();
    await settle(200);
    process.emit("SIGTERM", "SIGTERM");
    const exit = await s.exited;
    expect(exit).toEqual({ code: null, signal: "SIGTERM", stopRequested: true });
    expect(warnings).toEqual([]);
  });
});
