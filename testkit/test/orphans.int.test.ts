import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pidAlive, spawnTs } from "@konorkestra/testkit";

const fixtures = join(__dirname, "fixtures");

function childrenOf(pid: number): number[] {
  // /proc/<pid>/task/<pid>/children lists direct children (Linux).
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = pids.filter(pidAlive);
    if (alive.length === 0 || Date.now() > deadline) return alive;
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("no orphan servers", () => {
  it("stops every server whose owner is SIGKILLed", async () => {
    const child = spawnTs(join(fixtures, "start-servers.ts"), [], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      let buf = "";
      child.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        if (buf.includes("\n")) resolve(buf.split("\n")[0]!);
      });
      child.once("exit", (code) =>
        reject(new Error(`fixture exited with ${code} before printing pids`)),
      );
    });
    const pids = JSON.parse(line) as { nats: number; postgres: number; redis: number };
    const servers = [pids.nats, pids.postgres, pids.redis];
    expect(servers.every(pidAlive)).toBe(true);
    // PostgreSQL's backends are children of the postmaster; they must go too.
    const pgChildren = childrenOf(pids.postgres);
    expect(pgChildren.length).toBeGreaterThan(0);

    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;

    expect(await waitGone([...servers, ...pgChildren], 15_000)).toEqual([]);
  });
});
