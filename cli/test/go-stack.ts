// The real stack the Go library's tests (clients/go) run against, as one process the Go TestMain
// spawns with `node testkit/src/run-ts.cjs cli/test/go-stack.ts GROUP KEY=YAML...`: nats-server,
// the admin's callout (join keys), the config-loader on a temp folder and the liveness monitor,
// exactly as the agent and `kon run` integration tests set them up. It prints one JSON line
// (`{"ready":...}`) with what a `kon` process needs, then one line per node event
// (`{"event":"up","node":"n1"}`), and stops everything when stdin closes or on SIGTERM/SIGINT.
// A stdin line `{"forge":"KEY"}` puts an entry whose sha256 is not its payload's (a corrupted
// write) into the group's bucket and answers `{"forged":"KEY","revision":N}`.
// The Go tests start `kon agent` and `kon run` themselves from cli/dist/bin.js.
import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { Kvm } from "@nats-io/kv";
import { ConfigEntry, NodeEvent, decodeMessage, encodeMessage } from "@konorkestra/proto";
import { nodeEventWord } from "@konorkestra/sdk/internal";
import { getFreePort, spawnTs } from "@konorkestra/testkit";
import { ConfigStack, KON_BIN, eventually, names } from "./agent-stack";

const MONITOR = join(__dirname, "../../heartbeat/src/main.ts");
let monitorPort = 0;

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

/** Starts the monitor; resolves once it answers (it takes a while to start on a busy host). */
function startMonitor(stack: ConfigStack): { child: ChildProcess; ready: Promise<string> } {
  let log = "";
  const child = spawnTs(MONITOR, [], {
    env: {
      ...process.env,
      ...stack.nats.serviceEnv("monitor"),
      KON_MONITOR_PORT: String(monitorPort),
      KON_MONITOR_ID: "go-client-test",
    },
  });
  child.stdout?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${monitorPort}`;
  const ready = eventually(
    "monitor answering",
    () =>
      fetch(`${url}/healthz`).then(
        (r) => r.status,
        () => 0,
      ),
    (status) => status > 0,
    90_000,
    () => log,
  ).then(() => url);
  return { child, ready };
}

async function main(): Promise<void> {
  const [group, ...files] = process.argv.slice(2);
  if (!group) throw new Error("usage: go-stack.ts GROUP [KEY=YAML...]");
  monitorPort = await getFreePort();
  const stack = await ConfigStack.start(group, initialFiles(files));
  let monitor: { child: ChildProcess; ready: Promise<string> } | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    const child = monitor?.child;
    if (child?.pid && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once("exit", r));
      process.kill(child.pid, "SIGTERM");
      await exited;
    }
    await stack.stop();
    process.exit(code);
  };
  const commands = createInterface({ input: process.stdin });
  commands.on("line", (line) => void forge(stack, line));
  commands.on("close", () => void stop(0));
  process.on("SIGTERM", () => void stop(0));
  process.on("SIGINT", () => void stop(0));
  try {
    // The events are watched before the monitor starts, so none is missed.
    stack.nc.subscribe(names.groupEventFilter(group, "node"), {
      callback: (_err, m) => {
        const e = decodeMessage(NodeEvent, m.data);
        print({ event: nodeEventWord(e.kind), node: e.nodeId });
      },
    });
    await stack.nc.flush();
    monitor = startMonitor(stack);
    // Ready for config tests now; the monitor says when it answers (`{"monitor": URL}`).
    print({
      ready: true,
      group,
      root: stack.root,
      configDir: join(stack.root, "config"),
      joinKeyFile: stack.joinKeyFile,
      konBin: KON_BIN,
      node: process.execPath,
      env: Object.fromEntries(Object.entries(stack.konEnv()).filter(([k]) => k.startsWith("KON_"))),
    });
    print({ monitor: await monitor.ready });
  } catch (err) {
    process.stderr.write(`go-stack: ${errorText(err)}\n`);
    await stop(1);
  }
}

/** Answers a `{"forge":"KEY"}` line (anything else is reported, not fatal). */
async function forge(stack: ConfigStack, line: string): Promise<void> {
  try {
    const { forge: key } = JSON.parse(line) as { forge?: unknown };
    if (typeof key !== "string") throw new Error(`unknown command ${line}`);
    const kv = await new Kvm(stack.nc).open(names.configBucket(stack.group));
    const revision = await kv.put(
      key,
      encodeMessage(ConfigEntry, {
        payload: Buffer.from('{"forged":true}'),
        sha256: "0".repeat(64),
        contentType: "application/json",
      }),
    );
    print({ forged: key, revision });
  } catch (err) {
    print({ error: errorText(err) });
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

main().catch((err: unknown) => {
  process.stderr.write(`go-stack: ${errorText(err)}\n`);
  process.exit(1);
});
