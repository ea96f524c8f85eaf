import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import type { KV } from "@nats-io/kv";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import {
  ConfigEntry,
  ConfigEvent,
  ConsistencyMode,
  Heartbeat,
  PrepareRequest,
  decodeMessage,
} from "@konorkestra/proto";
import { wireNames } from "@konorkestra/sdk/internal";
import { spawnTs, startNats } from "@konorkestra/testkit";
import type { NatsServer } from "@konorkestra/testkit";
import { NodeProcess } from "../../sdk/test/helpers/node-process";

// STRONG writes end to end with real processes: a liveness monitor (heartbeat/src/main.ts), the
// config-loader (src/main.ts, its least-privilege credential) and three member processes
// (sdk/test/fixtures/config-node-main.ts) that beat and vote. Node c's schema refuses n > 5 with
// a rule JSON Schema cannot carry, so only its vote can stop such a value.
jest.setTimeout(90_000);

const GROUP = "strong";
const KEY = "app";
const names = wireNames();
const REPO = join(__dirname, "..", "..");

let nats: NatsServer;
let nc: NatsConnection;
let root: string;
let cfg: KV;
let nodesKv: KV;
const children: ChildProcess[] = [];
const nodes: Record<string, NodeProcess> = {};
let loader: ChildProcess;
let loaderOut = "";
const events: ConfigEvent[] = [];
let eventSub: Subscription;

function spawnService(
  entry: string,
  env: Record<string, string>,
  onOut: (s: string) => void,
): ChildProcess {
  const child = spawnTs(join(REPO, entry), [], { env: { ...process.env, ...env } });
  child.stdout!.on("data", (d: Buffer) => onOut(d.toString()));
  child.stderr!.on("data", (d: Buffer) => onOut(d.toString()));
  children.push(child);
  return child;
}

function startLoader(): ChildProcess {
  loader = spawnService(
    "config-loader/src/main.ts",
    {
      ...nats.serviceEnv("config-loader"),
      KON_CONFIG_DIR: root,
      KON_LOADER_PORT: "0",
      KON_RESYNC_MS: "0",
      KON_GIT: "off",
      KON_LOADER_ID: "loader-1",
    },
    (s) => (loaderOut += s),
  );
  return loader;
}

function writeValue(n: number): void {
  writeFileSync(join(root, GROUP, `${KEY}.json`), JSON.stringify({ n }));
}

async function until<T>(
  what: string,
  f: () => Promise<T | undefined> | T | undefined,
  ms = 20_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}\nloader:\n${loaderOut.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stored(): Promise<{ entry: ConfigEntry; revision: number } | undefined> {
  const e = await cfg.get(KEY);
  return e?.operation === "PUT"
    ? { entry: decodeMessage(ConfigEntry, e.value), revision: e.revision }
    : undefined;
}

const valueOf = (entry: ConfigEntry): unknown => JSON.parse(Buffer.from(entry.payload).toString());

/** Node ids whose kon_nodes record says they run KEY. */
async function listedVoters(): Promise<string[]> {
  const out: string[] = [];
  for await (const k of await nodesKv.keys(`${GROUP}.>`)) {
    const e = await nodesKv.get(k);
    if (e?.operation !== "PUT" || e.value.length === 0) continue;
    if (decodeMessage(Heartbeat, e.value).config[KEY]) out.push(k.slice(GROUP.length + 1));
  }
  return out.sort();
}

/** Resolves with the next prepare request on the group's subject. */
function nextPrepare(): Promise<PrepareRequest> {
  return new Promise((resolve) => {
    const sub = nc.subscribe(names.prepareSubject(GROUP), {
      max: 1,
      callback: (_e, m) => resolve(decodeMessage(PrepareRequest, m.data)),
    });
    void sub;
  });
}

const aborted = (sha256: string): Promise<ConfigEvent> =>
  until("config.aborted", () =>
    events.find((e) => e.kind === ConfigEvent.Kind.ABORTED && e.sha256 === sha256),
  );

async function values(): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [id, p] of Object.entries(nodes)) out[id] = (await p.state()).value;
  return out;
}

beforeAll(async () => {
  nats = await startNats();
  nc = await connect(nats.clientOptions());
  root = mkdtempSync(join(tmpdir(), "kon-strong-"));
  mkdirSync(join(root, GROUP, ".kon"), { recursive: true });
  writeFileSync(
    join(root, GROUP, ".kon", "settings.yaml"),
    "consistency: strong\nprepare_timeout_ms: 2000\n",
  );
  writeValue(1);
  eventSub = nc.subscribe(names.groupEventFilter(GROUP, "config"), {
    callback: (_e, m) => {
      events.push(decodeMessage(ConfigEvent, m.data));
    },
  });
  let monitorOut = "";
  spawnService(
    "heartbeat/src/main.ts",
    { ...nats.clientEnv(), KON_MONITOR_ID: "m1", KON_MONITOR_PORT: "0", KON_AUTH: "off" },
    (s) => (monitorOut += s),
  );
  startLoader();
  const kvm = new Kvm(nc);
  cfg = await until(
    "the loader's first publish",
    async () => {
      const kv = await kvm.open(names.configBucket(GROUP)).catch(() => undefined);
      return kv && (await kv.get(KEY).catch(() => null)) ? kv : undefined;
    },
    40_000,
  );
  nodesKv = await until(
    "the monitor",
    () => kvm.open(names.nodesBucket).catch(() => undefined),
    40_000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}\nmonitor:\n${monitorOut}`);
  });
  const env = (id: string, max?: number): Record<string, string> => ({
    ...nats.clientEnv(),
    KON_GROUP: GROUP,
    KON_NODE_ID: id,
    KON_SNAPSHOT_DIR: mkdtempSync(join(root, `state-${id}-`)),
    NODE_KEY: KEY,
    NODE_HEARTBEAT: "1",
    ...(max === undefined ? {} : { NODE_MAX: String(max) }),
  });
  nodes.a = new NodeProcess(env("a"));
  nodes.b = new NodeProcess(env("b"));
  nodes.c = new NodeProcess(env("c", 5));
  await Promise.all(Object.values(nodes).map((p) => p.waitFor((l) => l.ev === "ready", 40_000)));
  await until("every node listed as a voter", async () =>
    (await listedVoters()).join() === "a,b,c" ? true : undefined,
  );
}, 120_000);

afterAll(async () => {
  eventSub?.unsubscribe();
  await Promise.all(Object.values(nodes).map((p) => p.stop()));
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await nc?.close();
  await nats?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

describe("strong writes (prepare, then commit)", () => {
  it("commits when every live node agrees", async () => {
    writeValue(2);
    const changes = await Promise.all(
      Object.values(nodes).map((p) => p.waitFor((l) => l.ev === "change" && l.value?.n === 2)),
    );
    const s = (await stored())!;
    expect(valueOf(s.entry)).toEqual({ n: 2 });
    expect(s.entry.consistency).toBe(ConsistencyMode.STRONG);
    expect(s.entry.prepareId).toMatch(/^prep-/);
    for (const c of changes) expect(c.rev).toBe(s.revision);
  });

  it("aborts when one node refuses: nothing changes anywhere, the abort names it with its schema error", async () => {
    const before = (await stored())!.revision;
    writeValue(10);
    const sha = await until(
      "the candidate's sha256",
      () =>
        events.find((e) => e.kind === ConfigEvent.Kind.PREPARE_FAILED && e.nodeId === "c")
          ?.prepareId,
    ).then(
      (prepareId) =>
        events.find((e) => e.prepareId === prepareId && e.kind === ConfigEvent.Kind.ABORTED)
          ?.sha256 ?? "",
    );
    const ev = await aborted(sha);
    expect(ev.key).toBe(KEY);
    expect(ev.error?.reason).toContain("c refused");
    expect(ev.error?.reason).toContain("n must be at most 5");
    expect(ev.error?.reason).not.toMatch(/\ba refused|\bb refused/);
    expect((await stored())!.revision).toBe(before);
    expect(await values()).toEqual({ a: { n: 2 }, b: { n: 2 }, c: { n: 2 } });
    writeValue(2); // the folder put back, as the admin API does after an abort
  });

  it("aborts on timeout when a node is killed mid-prepare, naming it", async () => {
    const before = (await stored())!.revision;
    nodes.b!.signal("SIGSTOP"); // cannot answer; killed once the prepare is out
    const prepare = nextPrepare();
    writeValue(3);
    const req = await prepare;
    expect([...req.voters].sort()).toEqual(["a", "b", "c"]);
    await nodes.b!.stop();
    delete nodes.b;
    const ev = await aborted(req.entries[0]?.sha256 ?? "");
    expect(ev.prepareId).toBe(req.prepareId);
    expect(ev.error?.reason).toContain("b did not answer within the timeout");
    expect((await stored())!.revision).toBe(before);
    expect(await values()).toEqual({ a: { n: 2 }, c: { n: 2 } });
    writeValue(2);
    // The monitor reports b down and drops its record before the next round.
    await until("b no longer listed", async () =>
      (await listedVoters()).join() === "a,c" ? true : undefined,
    );
  });

  it("the coordinator killed between prepare and commit: nothing applied; the restarted loader redoes it", async () => {
    const before = (await stored())!.revision;
    nodes.a!.signal("SIGSTOP"); // holds the round open
    const prepare = nextPrepare();
    writeValue(4);
    const req = await prepare;
    const exited = new Promise((r) => loader.once("exit", r));
    loader.kill("SIGKILL");
    await exited;
    nodes.a!.signal("SIGCONT");
    // Past the round's deadline: no node took the candidate, the bucket never had it.
    await new Promise((r) => setTimeout(r, Math.max(0, Number(req.deadlineMs) - Date.now()) + 500));
    expect((await stored())!.revision).toBe(before);
    expect(await values()).toEqual({ a: { n: 2 }, c: { n: 2 } });
    expect(Object.values(nodes).some((p) => p.lines.some((l) => l.value?.n === 4))).toBe(false);

    startLoader(); // its start reconcile prepares the folder's value again
    await Promise.all(
      Object.values(nodes).map((p) =>
        p.waitFor((l) => l.ev === "change" && l.value?.n === 4, 40_000),
      ),
    );
    const s = (await stored())!;
    expect(valueOf(s.entry)).toEqual({ n: 4 });
    expect(s.entry.prepareId).not.toBe(req.prepareId);
  });

  it("a write intent schedules an eventual write: activate_at_ms and previous_revision in the entry, swap at the instant", async () => {
    const before = (await stored())!;
    const instant = Date.now() + 3000;
    const sha256 = createHash("sha256")
      .update(JSON.stringify({ n: 5 }))
      .digest("hex");
    mkdirSync(join(root, GROUP, ".kon", "intents"), { recursive: true });
    // The intent first: the loader reads it when the value's file changes.
    writeFileSync(
      join(root, GROUP, ".kon", "intents", `${KEY}.json`),
      JSON.stringify({
        sha256,
        consistency: "eventual",
        activate_at_ms: instant,
        author: "Ada <ada@example.org>",
      }),
    );
    writeValue(5);
    const s = await until("the scheduled entry", async () => {
      const e = await stored();
      return e && e.revision > before.revision ? e : undefined;
    });
    expect(s.entry.activateAtMs).toBe(instant);
    expect(s.entry.previousRevision).toBe(before.revision);
    expect(s.entry.consistency).not.toBe(ConsistencyMode.STRONG);
    expect(s.entry.publishedBy).toBe("Ada <ada@example.org>");
    const a = nodes.a!;
    await until("pending on a", async () =>
      (await a.state()).pending?.revision === s.revision ? true : undefined,
    );
    expect((await a.state()).value).toEqual({ n: 4 });
    const swaps = await Promise.all(
      Object.values(nodes).map((p) => p.waitFor((l) => l.ev === "change" && l.value?.n === 5)),
    );
    for (const w of swaps) expect(Math.abs(w.at! - instant)).toBeLessThan(250);
  });
});
