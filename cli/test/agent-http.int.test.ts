// `kon agent` as a real process, joined to its group with a join key, serving HTTP on a Unix
// socket; the config comes from the real config-loader publishing a temp folder. Clients: node's
// http, curl, and the Python example — each sees a file change arrive.
import { spawn } from "node:child_process";
import { execFileSync } from "node:child_process";
import { request } from "node:http";
import { connect as connectSocket } from "node:net";
import { statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { ConfigEntry, Heartbeat, decodeMessage, encodeMessage } from "@konorkestra/proto";
import { getFreePort } from "@konorkestra/testkit";
import {
  ConfigStack,
  EXAMPLES,
  KonProcess,
  PYTHON,
  eventually,
  names,
  unixRequest,
} from "./agent-stack";
import type { KonProcess as Kon } from "./agent-stack";

const GROUP = "agent-t";
let stack: ConfigStack;
let agent: Kon;
let socket: string;

interface View {
  key: string;
  value: Record<string, unknown>;
  revision: number;
  sha256: string;
  sourcePath: string;
  origin: string;
  refused?: { revision: number; reason: string };
}
interface ErrorBody {
  error: { code: string; message: string; details: Record<string, unknown> };
}

beforeAll(async () => {
  stack = await ConfigStack.start(GROUP, {
    service1: "greeting: hello\nport: 8080\n",
    other: "x: 1\n",
  });
  socket = join(stack.root, "agent.sock");
  agent = stack.kon([
    "agent",
    "--group",
    GROUP,
    "--socket",
    socket,
    "--join-key-file",
    stack.joinKeyFile,
    "--node",
    "agent-1",
    // Short, so that the slow-client test is quick; the default is 10 s.
    "--request-timeout",
    "1000",
  ]);
  await eventually(
    "agent healthy",
    () =>
      unixRequest(socket, "/healthz").then(
        (r) => r.status,
        () => 0,
      ),
    (s) => s === 200,
    20_000,
    () => agent.output,
  );
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

async function view(key: string): Promise<View> {
  const r = await unixRequest(socket, `/v1/config/${key}`);
  expect(r.status).toBe(200);
  return r.json() as View;
}

test("the socket file is 0660 and a second agent on it is refused", async () => {
  expect(statSync(socket).mode & 0o777).toBe(0o660);
  const second = stack.kon([
    "agent",
    "--group",
    GROUP,
    "--socket",
    socket,
    "--join-key-file",
    stack.joinKeyFile,
  ]);
  const { code } = await second.exited;
  expect(code).toBe(4);
  expect(second.stderr).toMatch(/another process is listening on .*agent\.sock/);
  expect((await unixRequest(socket, "/healthz")).status).toBe(200); // the first still serves
});

test("a refused join key exits 4 (NATS_REFUSED), an unreachable NATS 5 (NATS_UNREACHABLE)", async () => {
  const badKey = join(stack.root, "bad-join-key");
  writeFileSync(badKey, "kjk_not-a-valid-key-0123456789\n", { mode: 0o600 });
  const agentArgs = (name: string, keyFile: string) => [
    "agent",
    "--group",
    GROUP,
    "--socket",
    join(stack.root, `${name}.sock`),
    "--join-key-file",
    keyFile,
  ];
  const refused = stack.kon(agentArgs("refused", badKey));
  const deadPort = await getFreePort();
  const unreachable = stack.kon(
    agentArgs("unreachable", stack.joinKeyFile),
    stack.konEnv({ KON_SERVERS: `nats://127.0.0.1:${deadPort}`, KON_CONNECT_TIMEOUT_MS: "300" }),
  );
  const [r, u] = await Promise.all([refused.exited, unreachable.exited]);
  // The stderr is in the message of a failing assertion: it says why the code was not 4 or 5.
  expect(`${r.code} ${refused.stderr}`).toMatch(
    /^4 [^]*refused this process: .*Authorization Violation.*\[NATS_REFUSED\]/,
  );
  expect(refused.stderr).not.toContain("not-a-valid-key");
  expect(`${u.code} ${unreachable.stderr}`).toMatch(
    /^5 [^]*cannot reach NATS at .* within 300 ms.*\[NATS_UNREACHABLE\]/,
  );
});

/**
 * Sends `head` over a raw socket, then one byte of `drip` every 100 ms; resolves when the agent
 * closes the connection, with what it answered and how long the connection lived.
 */
function dribble(head: string, drip: string): Promise<{ answer: string; livedMs: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const c = connectSocket(socket);
    let answer = "";
    let i = 0;
    const timer = setInterval(() => c.write(drip[i++ % drip.length]!), 100);
    c.on("data", (d: Buffer) => (answer += d.toString()));
    c.on("error", () => undefined); // a write after the agent hung up
    c.on("close", () => {
      clearInterval(timer);
      resolve({ answer, livedMs: Date.now() - started });
    });
    c.write(head);
    // A safety stop for the test itself, far past the agent's 1 s limit.
    setTimeout(() => c.destroy(), 15_000).unref();
  });
}

test("a client dribbling its body or headers is cut after --request-timeout (408); long-polls are not", async () => {
  const before = await view("service1");
  const poll = unixRequest(socket, `/v1/config/service1?wait=${before.revision}&timeout=2.5`);
  const pollStarted = Date.now();
  const [body, headers] = await Promise.all([
    dribble(
      "POST /v1/heartbeat HTTP/1.1\r\nHost: kon\r\nContent-Type: application/json\r\nContent-Length: 4000\r\n\r\n",
      " ",
    ),
    dribble("GET /healthz HTTP/1.1\r\n", "X-Slow: aaaaaaaa\r\n"),
  ]);
  for (const cut of [body, headers]) {
    expect(cut.answer).toMatch(/^HTTP\/1\.1 408 /);
    // 1 s limit, checked every second: cut between 1 and about 2 s (not the 60 s of before).
    expect(cut.livedMs).toBeGreaterThanOrEqual(900);
    expect(cut.livedMs).toBeLessThan(6_000);
  }
  // The long-poll's request was complete: it waits its 2.5 s and answers, past the 1 s limit.
  const answered = await poll;
  expect(answered.status).toBe(304);
  expect(Date.now() - pollStarted).toBeGreaterThanOrEqual(2_400);
  expect((await unixRequest(socket, "/healthz")).status).toBe(200);
});

test("GET /v1/config/:key serves value, revision, sha256 and provenance", async () => {
  const v = await view("service1");
  expect(v.value).toEqual({ greeting: "hello", port: 8080 });
  expect(v.revision).toBeGreaterThan(0);
  expect(v.sha256).toMatch(/^[0-9a-f]{64}$/);
  expect(v.sourcePath).toContain("service1.yaml");
  expect(v.origin).toBe("nats");
  const list = (await unixRequest(socket, "/v1/config")).json() as { keys: { key: string }[] };
  expect(list.keys.map((k) => k.key)).toEqual(["other", "service1"]);
});

test("bad requests get a JSON error and leave other clients alone", async () => {
  const cases: [string, { method?: string; body?: string }, number, string][] = [
    ["/v1/config/nope", {}, 404, "NOT_FOUND"],
    ["/v1/config/bad%20key", {}, 400, "INVALID_INPUT"],
    ["/v1/config/service1?wait=abc", {}, 400, "INVALID_INPUT"],
    ["/v1/config/service1?wait=1&timeout=9999", {}, 400, "INVALID_INPUT"],
    ["/v1/config/service1?wiat=1", {}, 400, "INVALID_INPUT"],
    ["/v1/config/service1", { method: "DELETE" }, 405, "METHOD_NOT_ALLOWED"],
    ["/v1/heartbeat", { method: "POST", body: "x".repeat(64 * 1024) }, 413, "PAYLOAD_TOO_LARGE"],
    ["/v1/heartbeat", { method: "POST", body: "{nope" }, 400, "INVALID_INPUT"],
    ["/v1/heartbeat", { method: "POST", body: '{"node":"a.b"}' }, 400, "INVALID_INPUT"],
    ["/v2/anything", {}, 404, "NOT_FOUND"],
  ];
  // A long-poll stays open through all of them and still answers.
  const before = await view("service1");
  const waiting = unixRequest(socket, `/v1/config/service1?wait=${before.revision}&timeout=1`);
  for (const [path, opts, status, code] of cases) {
    const r = await unixRequest(socket, path, opts);
    expect([path, r.status]).toEqual([path, status]);
    const body = r.json() as ErrorBody;
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(5);
    expect(typeof body.error.details).toBe("object");
  }
  // N4: the agent's words, not the SDK's (no bucket name, no opts.default).
  const missing = (await unixRequest(socket, "/v1/config/nope")).json() as ErrorBody;
  expect(missing.error.message).toBe(`config key nope does not exist in group ${GROUP}`);
  const w = await waiting;
  expect(w.status).toBe(304);
  expect(w.headers["kon-revision"]).toBe(String(before.revision));
  expect((await view("service1")).value).toEqual(before.value);
});

test("long-poll answers when a file change is published; SSE streams it with resumable ids", async () => {
  const before = await view("service1");
  const events = sse(socket, "/v1/watch?keys=service1");
  await eventually(
    "initial event",
    () => Promise.resolve(events.list.length),
    (n) => n >= 1,
  );
  expect(events.retry).toBe(2000);
  expect(events.list[0]!.id).toBe(String(before.revision));

  const poll = unixRequest(socket, `/v1/config/service1?wait=${before.revision}&timeout=20`);
  stack.write("service1", "greeting: bonjour\nport: 8080\n");
  const r = await poll;
  expect(r.status).toBe(200);
  const after = r.json() as View;
  expect(after.value).toEqual({ greeting: "bonjour", port: 8080 });
  expect(after.revision).toBeGreaterThan(before.revision);

  await eventually(
    "change event",
    () => Promise.resolve(events.list.length),
    (n) => n >= 2,
  );
  const ev = events.list[1]!;
  expect(ev.event).toBe("config");
  expect(ev.id).toBe(String(after.revision));
  expect((JSON.parse(ev.data) as View).value).toEqual(after.value);
  events.close();

  // Resuming from the last id sends nothing old; the next change arrives.
  const resumed = sse(socket, "/v1/watch?keys=service1", {
    "last-event-id": String(after.revision),
  });
  await new Promise((r) => setTimeout(r, 300));
  expect(resumed.list).toHaveLength(0);
  stack.write("service1", "greeting: hallo\nport: 8080\n");
  await eventually(
    "resumed event",
    () => Promise.resolve(resumed.list.length),
    (n) => n >= 1,
  );
  expect((JSON.parse(resumed.list[0]!.data) as View).value).toEqual({
    greeting: "hallo",
    port: 8080,
  });
  resumed.close();
});

test("a watch without keys starts with every key of the group, in revision order, then new keys", async () => {
  const all = sse(socket, "/v1/watch");
  try {
    await eventually(
      "both keys",
      () => Promise.resolve(all.list.length),
      (n) => n >= 2,
    );
    const keys = all.list.map((e) => (JSON.parse(e.data) as View).key).sort();
    expect(keys).toEqual(["other", "service1"]);
    const ids = all.list.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    // A key that appears later (a new file) arrives as an event too.
    stack.write("fresh", "y: 1\n");
    await eventually(
      "new key event",
      () => Promise.resolve(all.list.length),
      (n) => n >= 3,
    );
    expect(JSON.parse(all.list[2]!.data)).toMatchObject({ key: "fresh", value: { y: 1 } });
  } finally {
    all.close();
  }
});

test("a revision the SDK refuses is never served as current", async () => {
  const before = await view("other");
  // An entry whose sha256 is not its payload's (a forged or corrupted write to the bucket).
  const kv = await new Kvm(stack.nc).open(names.configBucket(GROUP));
  const forged = await kv.put(
    "other",
    encodeMessage(ConfigEntry, {
      payload: Buffer.from('{"x":666}'),
      sha256: "0".repeat(64),
      contentType: "application/json",
    }),
  );
  const v = await eventually(
    "refusal shown",
    () => view("other"),
    (x) => x.refused !== undefined,
  );
  expect(v.refused!.revision).toBe(forged);
  expect(v.refused!.reason).toMatch(/sha256 mismatch/);
  expect(v.value).toEqual(before.value);
  expect(v.revision).toBe(before.revision);
  const poll = await unixRequest(socket, `/v1/config/other?wait=${before.revision}&timeout=0.5`);
  expect(poll.status).toBe(304);
});

test("curl --unix-socket reads a key, and the curl one-liner follows a change", async () => {
  let hasCurl = true;
  try {
    execFileSync("curl", ["--version"], { stdio: "ignore" });
  } catch {
    hasCurl = false;
  }
  if (!hasCurl) {
    console.warn("curl is not installed: skipping the curl part of the agent test");
    return;
  }
  const out = execFileSync("curl", [
    "-sS",
    "--unix-socket",
    socket,
    "http://kon/v1/config/other",
  ]).toString();
  expect((JSON.parse(out) as View).value).toEqual({ x: 1 });

  const follow = new KonProcess(
    spawn("sh", [join(EXAMPLES, "curl/follow.sh"), socket, "other"], { stdio: "pipe" }),
  );
  try {
    await follow.line(/^data: .*"x":1[,}]/);
    stack.write("other", "x: 2\n");
    await follow.line(/^data: .*"x":2[,}]/);
  } finally {
    follow.child.kill("SIGTERM");
    await follow.exited;
  }
});

test("the Python example reads through the socket, follows a change and beats through the agent", async () => {
  const py = new KonProcess(
    spawn(
      PYTHON,
      [
        join(EXAMPLES, "python-service/service.py"),
        "--socket",
        socket,
        "--key",
        "service1",
        "--node",
        "py-1",
      ],
      {
        stdio: "pipe",
      },
    ),
  );
  try {
    const first = await py.line(/^loaded revision=(\d+) pid=\d+ config=(.*)$/);
    stack.write("service1", "greeting: ciao\nport: 9090\n");
    const next = await py.line(/^loaded revision=(\d+) pid=\d+ config=(.*)$/, 1);
    expect(Number(next[1])).toBeGreaterThan(Number(first[1]));
    expect(JSON.parse(next[2]!)).toEqual({ greeting: "ciao", port: 9090 });
    const beat = await eventually(
      "a relayed beat of py-1",
      () => lastBeat("py-1"),
      (hb) => hb !== undefined,
    );
    expect(beat!.process?.serviceName).toBe("python-service");
  } finally {
    py.child.kill("SIGTERM");
    await py.exited;
  }
  // its leaving beat, relayed on SIGTERM
  const left = await eventually(
    "leaving beat of py-1",
    () => lastBeat("py-1"),
    (hb) => hb?.leaving === true,
    15_000,
    () => py.output,
  );
  expect(left!.nodeId).toBe("py-1");
});

test("POST /v1/heartbeat beats for a node (stored in KON_HB), keeps its lineage and relays a leave", async () => {
  const post = (body: unknown) =>
    unixRequest(socket, "/v1/heartbeat", { method: "POST", body: JSON.stringify(body) });
  const a = await post({ node: "sh-1", intervalMs: 500, config: { service1: 1 } });
  expect(a.status).toBe(202);
  const first = a.json() as { seq: number; instanceId: string; ttlMs: number };
  expect(first.seq).toBe(1);
  expect(first.ttlMs).toBe(2000);
  await new Promise((r) => setTimeout(r, 120));
  const b = (await post({ node: "sh-1", intervalMs: 500 })).json() as {
    seq: number;
    instanceId: string;
  };
  expect(b).toMatchObject({ seq: 2, instanceId: first.instanceId });
  const hb = await lastBeat("sh-1");
  expect(hb).toMatchObject({ nodeId: "sh-1", group: GROUP, intervalMs: 500, leaving: false });
  expect(Number(hb!.seq)).toBe(2);

  expect((await post({ node: "sh-1" })).status).toBe(429); // under 100 ms after the last
  await new Promise((r) => setTimeout(r, 120));
  expect((await post({ node: "sh-1", leaving: true })).status).toBe(202);
  expect((await lastBeat("sh-1"))!.leaving).toBe(true);

  // Without a node: the agent's own SDK heartbeat.
  const own = (await post({})).json() as { node: string };
  expect(own.node).toBe("agent-1");
  expect(await lastBeat("agent-1")).toBeDefined();
});

test("SIGTERM stops the agent and removes its socket file", async () => {
  await agent.stop();
  expect((await agent.exited).code).toBe(0);
  expect(() => statSync(socket)).toThrow();
  expect(agent.stderr).not.toContain(stack.joinKey);
});

async function lastBeat(node: string): Promise<Heartbeat | undefined> {
  const jsm = await jetstreamManager(stack.nc);
  const m = await jsm.streams
    .getMessage(names.heartbeatStream, { last_by_subj: names.heartbeatSubject(GROUP, node) })
    .catch(() => null);
  return m ? decodeMessage(Heartbeat, m.data) : undefined;
}

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** A server-sent-events reader over the socket. */
function sse(socketPath: string, path: string, headers: Record<string, string> = {}) {
  const state = { list: [] as SseEvent[], retry: 0, close: () => undefined as void };
  const req = request({ socketPath, path, headers: { host: "kon", ...headers } }, (res) => {
    let buf = "";
    res.setEncoding("utf8");
    res.on("data", (d: string) => {
      buf += d;
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev: SseEvent = { data: "" };
        for (const line of block.split("\n")) {
          const [k, ...rest] = line.split(": ");
          const v = rest.join(": ");
          if (k === "retry") state.retry = Number(line.slice(7));
          else if (k === "id") ev.id = v;
          else if (k === "event") ev.event = v;
          else if (k === "data") ev.data = v;
        }
        if (ev.data) state.list.push(ev);
      }
    });
  });
  req.on("error", () => undefined);
  req.end();
  state.close = () => void req.destroy();
  return state;
}
