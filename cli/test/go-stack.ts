// The real stack the Go library's tests (clients/go) run against, as one process the Go TestMain
// spawns with `node testkit/src/run-ts.cjs cli/test/go-stack.ts GROUP KEY=YAML...`: nats-server,
// the admin's callout (join keys), the config-loader on a temp folder and the liveness monitor,
// exactly as the agent and `kon run` integration tests set them up. It prints one JSON line
// (`{"ready":...}`) with what a `kon` process needs, then one line per node event
// (`{"event":"up","node":"n1"}`), and stops everything when stdin closes or on SIGTERM/SIGINT.
// The Go tests start `kon agent` and `kon run` themselves from cli/dist/bin.js.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { NodeEvent, decodeMessage } from "@konorkestra/proto";
import { getFreePort, spawnTs } from "@konorkestra/testkit";
import { ConfigStack, KON_BIN, eventually } from "./agent-stack";

const MONITOR = join(__dirname, "../../heartbeat/src/main.ts");

function print(line: unknown): void {
  process.stdout.write(`${JSON.stringify(line)}\n`);
}

/** `key=yaml` arguments (the YAML may hold `=` and newlines). */
function initialFiles(args: string[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const a of args) {
    const i = a.indexOf("=");
    if (i <= 0) throw new Error(`expected KEY=YAML, got ${JSON.stringify(a)}`);
    files[a.slice(0, i)] = a.slice(i + 1);
  }
  return files;
}

async function startMonitor(stack: ConfigStack): Promise<{ child: ChildProcess; url: string }> {
  const port = await getFreePort();
  let log = "";
  const child = spawnTs(MONITOR, [], {
    env: {
      ...process.env,
      ...stack.nats.serviceEnv("monitor"),
      KON_MONITOR_PORT: String(port),
      KON_MONITOR_ID: "go-client-test",
    },
  });
  child.stdout?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  await eventually(
    "monitor answering",
    () =>
      fetch(`${url}/healthz`).then(
        (r) => r.status,
        () => 0,
      ),
    (status) => status > 0,
    30_000,
    () => log,
  );
  return { child, url };
}

async function main(): Promise<void> {
  const [group, ...files] = process.argv.slice(2);
  if (!group) throw new Error("usage: go-stack.ts GROUP [KEY=YAML...]");
  const stack = await ConfigStack.start(group, initialFiles(files));
  const monitor = await startMonitor(stack);
  stack.nc.subscribe(`kon.evt.${group}.node.>`, {
    callback: (_err, m) => {
      const e = decodeMessage(NodeEvent, m.data);
      print({ event: m.subject.split(".").pop(), node: e.nodeId });
    },
  });
  await stack.nc.flush();
  print({
    ready: true,
    group,
    root: stack.root,
    configDir: join(stack.root, "config"),
    joinKeyFile: stack.joinKeyFile,
    konBin: KON_BIN,
    node: process.execPath,
    monitorUrl: monitor.url,
    env: Object.fromEntries(Object.entries(stack.konEnv()).filter(([k]) => k.startsWith("KON_"))),
  });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const exited = new Promise((r) => monitor.child.once("exit", r));
    if (monitor.child.exitCode === null && monitor.child.pid) {
      process.kill(monitor.child.pid, "SIGTERM");
      await exited;
    }
    await stack.stop();
    process.exit(0);
  };
  process.stdin.on("end", () => void stop());
  process.stdin.on("close", () => void stop());
  process.stdin.resume();
  process.on("SIGTERM", () => void stop());
  process.on("SIGINT", () => void stop());
}

main().catch((err: unknown) => {
  process.stderr.write(
    `go-stack: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  );
  process.exit(1);
});
