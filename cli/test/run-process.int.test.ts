// `kon run` as a real process on a real stack (NATS, the config-loader on a temp folder, the
// admin's callout for the join key, and the liveness monitor as its own process): it renders or
// exports the config before the child starts, signals or restarts the child when the file
// changes, beats for it, and exits with its code; the monitor turns a crash into node.down and a
// clean end into node.left.
import type { ChildProcess } from "node:child_process";
import { statSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { NodeEvent, decodeMessage } from "@konorkestra/proto";
import { nodeEventWord } from "@konorkestra/sdk/internal";
import { getFreePort, spawnTs } from "@konorkestra/testkit";
import { ConfigStack, EXAMPLES, PYTHON, eventually, names } from "./agent-stack";
import type { KonProcess } from "./agent-stack";

const GROUP = "run-t";
const MONITOR = join(__dirname, "../../heartbeat/src/main.ts");
let stack: ConfigStack;
let monitor: ChildProcess;
let monitorLog = "";
/** node id → kinds of node events seen, in order. */
const events = new Map<string, string[]>();

beforeAll(async () => {
  stack = await ConfigStack.start(GROUP, { service1: "greeting: hello\n" });
  const port = await getFreePort();
  monitor = spawnTs(MONITOR, [], {
    env: {
      ...process.env,
      ...stack.nats.serviceEnv("monitor"),
      KON_MONITOR_PORT: String(port),
      KON_MONITOR_ID: "cli-run-test",
    },
  });
  monitor.stdout?.on(
    "data",
    (d: Buffer) => (monitorLog = (monitorLog + d.toString()).slice(-4000)),
  );
  monitor.stderr?.on(
    "data",
    (d: Buffer) => (monitorLog = (monitorLog + d.toString()).slice(-4000)),
  );
  stack.nc.subscribe(names.groupEventFilter(GROUP, "node"), {
    callback: (_err, m) => {
      const e = decodeMessage(NodeEvent, m.data);
      events.set(e.nodeId, [...(events.get(e.nodeId) ?? []), nodeEventWord(e.kind) ?? "?"]);
    },
  });
  await stack.nc.flush();
  // Up before the first test, so its start does not compete with the first kon process.
  await eventually(
    "monitor answering",
    () =>
      fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        () => 0,
      ),
    (status) => status > 0,
    30_000,
    () => monitorLog,
  );
}, 90_000);

afterAll(async () => {
  if (monitor?.pid && monitor.exitCode === null) {
    const exited = new Promise((r) => monitor.once("exit", r));
    process.kill(monitor.pid, "SIGTERM");
    await exited;
  }
  await stack?.stop();
});

function konRun(node: string, args: string[]): KonProcess {
  return stack.kon([
    "run",
    "--group",
    GROUP,
    "--join-key-file",
    stack.joinKeyFile,
    "--node",
    node,
    "--heartbeat-interval",
    "500",
    ...args,
  ]);
}

async function eventsOf(node: string, until: string): Promise<string[]> {
  return eventually(
    `node.${until} of ${node}`,
    () => Promise.resolve(events.get(node) ?? []),
    (kinds) => kinds.includes(until),
    20_000,
    () => `monitor:\n${monitorLog}`,
  );
}

test("signal mode: the Python example reloads the rendered file on SIGHUP after a change", async () => {
  const file = join(stack.root, "service1.json");
  const kon = konRun("run-py", [
    "--key",
    "service1",
    "--render",
    file,
    "--signal",
    "HUP",
    "--",
    PYTHON,
    join(EXAMPLES, "python-service/service.py"),
    "--file",
    file,
  ]);
  const first = await kon.line(/^loaded revision=file pid=(\d+) config=(.*)$/);
  expect(JSON.parse(first[2]!)).toEqual({ greeting: "hello" });
  expect(statSync(file).mode & 0o777).toBe(0o600);
  await eventsOf("run-py", "up");

  const before = await stack.waitRevision("service1", 0);
  stack.write("service1", "greeting: bonjour\n");
  await stack.waitRevision("service1", before);
  const next = await kon.line(/^loaded revision=file pid=(\d+) config=(.*)$/, 1);
  expect(JSON.parse(next[2]!)).toEqual({ greeting: "bonjour" });
  expect(next[1]).toBe(first[1]); // the same process, reloaded
  expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ greeting: "bonjour" });
  expect(kon.stderr).toMatch(/sending SIGHUP to pid \d+/);

  // SIGTERM is passed on; the service exits 0 and kon run with it, leaving cleanly.
  await kon.stop();
  expect((await kon.exited).code).toBe(0);
  expect(await eventsOf("run-py", "left")).not.toContain("down");
});

test("restart mode: the child is restarted with the new value in its environment", async () => {
  const kon = konRun("run-env", [
    "--key",
    "service1",
    "--env",
    "APP",
    "--restart",
    "--",
    "sh",
    "-c",
    'echo "start pid=$$ greeting=$APP_GREETING join=${KON_JOIN_KEY:-none}"; exec sleep 30',
  ]);
  const first = await kon.line(/^start pid=(\d+) greeting=(\S*) join=(\S+)$/);
  expect(first[3]).toBe("none"); // the group's credential is not handed to the child
  const rev = await stack.waitRevision("service1", 0);
  stack.write("service1", `greeting: restarted-${first[1]}\n`);
  await stack.waitRevision("service1", rev);
  const next = await kon.line(/^start pid=(\d+) greeting=(\S*) join=(\S+)$/, 1);
  expect(next[2]).toBe(`restarted-${first[1]}`);
  expect(next[1]).not.toBe(first[1]);

  // Stopped by SIGTERM: sleep dies of it (128 + 15), which is a requested stop: node.left.
  await kon.stop();
  expect((await kon.exited).code).toBe(143);
  await eventsOf("run-env", "left");
});

test("exit codes propagate; a crash becomes node.down, a clean exit node.left", async () => {
  const file = join(stack.root, "crash.json");
  const crash = konRun("run-crash", [
    "--key",
    "service1",
    "--render",
    file,
    "--",
    "sh",
    "-c",
    "sleep 1.2; exit 7",
  ]);
  const clean = konRun("run-clean", [
    "--key",
    "service1",
    "--render",
    `${file}.2`,
    "--",
    "sh",
    "-c",
    "sleep 1.2",
  ]);
  const crashExit = (await crash.exited).code;
  expect(`${crashExit} ${crash.stderr}`).toMatch(/^7 /);
  expect((await clean.exited).code).toBe(0);
  expect(crash.stderr).toMatch(/code 7.*no leaving beat/);
  const crashed = await eventsOf("run-crash", "down");
  expect(crashed).toEqual(["up", "down"]);
  const left = await eventsOf("run-clean", "left");
  expect(left).toEqual(["up", "left"]);
});

test("without --node it beats as <id>-<key> from any id source, KON_NODE_ID_SOURCE=aws included", async () => {
  // A fake IMDSv2 on loopback (the real one is never contacted): token, then instance id.
  const imds = createServer((req, res) => {
    if (req.method === "PUT" && req.url === "/latest/api/token") res.end("tok");
    else if (
      req.url === "/latest/meta-data/instance-id" &&
      req.headers["x-aws-ec2-metadata-token"] === "tok"
    )
      res.end("i-0feedface1234567");
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => imds.listen(0, "127.0.0.1", r));
  try {
    const url = `http://127.0.0.1:${(imds.address() as AddressInfo).port}`;
    const kon = stack.kon(
      [
        "run",
        "--group",
        GROUP,
        "--join-key-file",
        stack.joinKeyFile,
        "--heartbeat-interval",
        "500",
        "--key",
        "service1",
        "--render",
        join(stack.root, "aws.json"),
        "--",
        "sh",
        "-c",
        "sleep 1",
      ],
      stack.konEnv({ KON_NODE_ID_SOURCE: "aws", KON_AWS_METADATA_URL: url }),
    );
    const exit = (await kon.exited).code;
    expect(`${exit} ${kon.stderr}`).toMatch(/^0 [^]*as node i-0feedface1234567-service1\n/);
    expect(await eventsOf("i-0feedface1234567-service1", "left")).toEqual(["up", "left"]);
  } finally {
    imds.closeAllConnections();
    await new Promise((r) => imds.close(r));
  }
});

test("usage and lookup errors exit with kon's codes before any child starts", async () => {
  const render = (name: string) => ["--render", join(stack.root, name)];
  // One after another: each of the last two joins through the auth callout, and three joins at
  // once on a loaded 2-core machine outlasted kon's 20 s connect timeout (exit 5).
  const neither = konRun("run-x", ["--key", "service1", "--", "true"]);
  const a = await neither.exited;
  const missing = konRun("run-y", ["--key", "nope", ...render("n.json"), "--", "true"]);
  const b = await missing.exited;
  const noCommand = konRun("run-z", [
    "--key",
    "service1",
    ...render("z.json"),
    "--",
    "/nonexistent/cmd",
  ]);
  const c = await noCommand.exited;
  expect(a.code).toBe(2);
  expect(neither.stderr).toMatch(/--render <file> or --env <prefix>/);
  expect(`${b.code} ${missing.stderr}`).toMatch(/^3 /);
  expect(missing.stderr).toMatch(/config key nope does not exist/);
  expect(c.code).toBe(127);
  expect(noCommand.stderr).toMatch(/cannot start the command: .*ENOENT/);
});
