import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { spawnTs } from "@konorkestra/testkit";

const MAIN = join(__dirname, "..", "fixtures", "config-node-main.ts");

/** One JSON line printed by config-node-main. */
export interface NodeLine {
  ev: "ready" | "change" | "state" | "refused" | "waiting";
  value?: { n: number };
  rev: number;
  pending?: { value: { n: number }; revision: number; activateAtMs: number } | null;
  at?: number;
  reason?: string;
}

/** A real member process (sdk/test/fixtures/config-node-main.ts) and what it printed. */
export class NodeProcess {
  readonly lines: NodeLine[] = [];
  output = "";
  private readonly child: ChildProcess;
  private readonly waiters: (() => void)[] = [];

  constructor(env: Record<string, string>) {
    this.child = spawnTs(MAIN, [], { env: { ...process.env, ...env } });
    let buf = "";
    const onData = (d: Buffer): void => {
      this.output += d.toString();
      buf += d.toString();
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("{")) this.lines.push(JSON.parse(line) as NodeLine);
        for (const w of this.waiters.splice(0)) w();
      }
    };
    this.child.stdout!.on("data", onData);
    this.child.stderr!.on("data", (d: Buffer) => (this.output += d.toString()));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Waits for a line matching `pred` (already printed or to come). */
  async waitFor(
    pred: (l: NodeLine) => boolean,
    timeoutMs = 20_000,
    what = "line",
  ): Promise<NodeLine> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit) return hit;
      if (this.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`no ${what} from node (exit ${this.child.exitCode}):\n${this.output}`);
      }
      await new Promise<void>((r) => {
        const t = setTimeout(r, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Asks for its current state and returns the answer. */
  async state(): Promise<NodeLine> {
    const from = this.lines.length;
    this.child.stdin!.write("state\n");
    return this.waitFor((l) => l.ev === "state" && this.lines.indexOf(l) >= from, 5000, "state");
  }

  /** Sends a line to its stdin (`go` starts a NODE_WAIT=1 node). */
  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  signal(sig: NodeJS.Signals): void {
    if (this.child.exitCode === null) this.child.kill(sig);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.kill("SIGKILL");
    await exited;
  }
}
