import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Kvm } from "@nats-io/kv";
import { ConfigEntry, NodeEvent, decodeMessage } from "@konorkestra/proto";
import { wireNames } from "@konorkestra/sdk/internal";
import { pidAlive } from "@konorkestra/testkit";
import type { CleanupStack } from "../cleanup-stack";
import { readAnalyticsRows, waitAnalyticsDrained } from "./analytics-rows";
import { ChaosFleet, FLEET_INTERVAL_MS, FLEET_MISSES } from "./chaos-fleet";
import type { ChaosOptions } from "./chaos-options";
import { configChecks, downChecks, rowChecks } from "./chaos-report";
import type { ChaosCheck, DrillRecord } from "./chaos-report";
import type { ChaosStack } from "./chaos-stack";
import { tallyConfig, tallyDowns, tallyEventRows, tallyHeartbeatRows } from "./chaos-tally";
import type { ConfigFinal, NodeEventSeen } from "./chaos-tally";
import { ConfigEditor } from "./config-editor";
import { ConfigWatchers } from "./config-watchers";
import { runDrill } from "./drills";
import { snapshotStreams } from "./stream-snapshot";
import type { StreamSnapshot } from "./stream-snapshot";

const GROUP = "chaos";
const TTL_MS = FLEET_INTERVAL_MS * FLEET_MISSES;
/** The monitor's default KON_BLIND_GRACE_MS: a down after a blind period comes this much later. */
const BLIND_GRACE_MS = 2000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Everything a run produced for the report. */
export interface ChaosResult {
  readonly checks: ChaosCheck[];
  readonly drills: DrillRecord[];
  /** Examples of failures and facts worth knowing when reading the table. */
  readonly notes: string[];
}

/** Live counts of node events, only to know how long to wait (the judging reads the stream). */
class EventWatch {
  readonly ups = new Set<string>();
  readonly downs = new Set<string>();

  constructor(nc: NatsConnection) {
    nc.subscribe(wireNames().groupEventFilter(GROUP, "node"), {
      callback: (err, msg) => {
        if (err) return;
        const ev = decodeMessage(NodeEvent, msg.data);
        if (ev.kind === NodeEvent.Kind.UP) this.ups.add(ev.nodeId);
        if (ev.kind === NodeEvent.Kind.DOWN) this.downs.add(ev.nodeId);
      },
    });
  }
}

async function waitFor(what: string, timeoutMs: number, done: () => Promise<boolean> | boolean) {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
  return true;
}

/** The `v` of each key's current ConfigEntry in the group's bucket (what the loader published). */
async function bucketFinals(nc: NatsConnection, keys: readonly string[]): Promise<ConfigFinal[]> {
  const kv = await new Kvm(nc).open(wireNames().configBucket(GROUP));
  return Promise.all(
    keys.map(async (key) => {
      const e = await kv.get(key).catch(() => null);
      let v: number | undefined;
      if (e && e.operation === "PUT" && e.value.length > 0) {
        const entry = decodeMessage(ConfigEntry, e.value);
        const parsed = JSON.parse(Buffer.from(entry.payload).toString("utf8")) as { v?: number };
        v = parsed.v;
      }
      return { node: "bucket", key, v };
    }),
  );
}

/**
 * Not a check of its own (the issue asks for downs), but worth reading: a node announced up more
 * than once without a down between is a restart or a replay that re-announced it.
 */
function upsNote(events: readonly NodeEventSeen[], nodes: number): string {
  const ups = new Map<string, Set<string>>();
  for (const e of events) {
    if (e.kind === "up") ups.set(e.node, (ups.get(e.node) ?? new Set()).add(e.eventId));
  }
  const again = [...ups.entries()].filter(([, ids]) => ids.size > 1);
  const total = [...ups.values()].reduce((n, ids) => n + ids.size, 0);
  return (
    `node.up: ${total} for ${nodes} nodes; ${again.length} nodes announced up more than once` +
    (again.length
      ? ` (e.g. ${again
          .slice(0, 3)
          .map(([n, ids]) => `${n} x${ids.size}`)
          .join(", ")})`
      : "")
  );
}

interface Load {
  readonly observer: NatsConnection;
  readonly watch: EventWatch;
  readonly editor: ConfigEditor;
  readonly watchers: ConfigWatchers;
  readonly fleet: ChaosFleet;
}

/** The load: saved config published, config nodes on it, the fleet beating and reported up. */
async function startLoad(
  o: ChaosOptions,
  stack: ChaosStack,
  cleanup: CleanupStack,
  log: (l: string) => void,
): Promise<Load> {
  const observer = await connect({
    ...stack.nats.clientOptions(),
    name: "chaos-observer",
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
  });
  cleanup.push(() => observer.close());
  const watch = new EventWatch(observer);
  const editor = new ConfigEditor(stack.configDir, stack.scratchDir, GROUP, o.keys);
  cleanup.push(() => Promise.resolve(editor.stop()));
  editor.saveAll();
  const published = await waitFor("first publish", 60_000, async () =>
    (await bucketFinals(observer, editor.keys)).every((f) => f.v === editor.lastSaved.get(f.key)),
  );
  if (!published) throw new Error("the loader did not publish the first config within 60 s");
  log(`config: ${o.keys} keys published; opening ${o.configNodes} SDK config nodes`);
  const watchers = await ConfigWatchers.start(
    stack.nats.clientOptions(),
    GROUP,
    editor.keys,
    o.configNodes,
    stack.scratchDir,
  );
  cleanup.push(() => watchers.close());
  const fleet = await ChaosFleet.start(stack.nats.clientOptions(), GROUP, o.nodes);
  cleanup.push(() => fleet.close());
  const up = await waitFor("ups", 60_000, () => watch.ups.size >= o.nodes);
  if (!up) throw new Error(`only ${watch.ups.size} of ${o.nodes} nodes reported up within 60 s`);
  log(`fleet: ${o.nodes} nodes beating and reported up; editing a key every ${o.editEveryMs} ms`);
  editor.start(o.editEveryMs);
  return { observer, watch, editor, watchers, fleet };
}

/** After the drills: edits stop; config converges; every killed node's deadline has passed. */
async function settle(load: Load, log: (l: string) => void): Promise<void> {
  load.editor.stop();
  const { editor, watchers, fleet, watch, observer } = load;
  const converged = await waitFor("config", 60_000, async () => {
    const finals = [...watchers.finals(), ...(await bucketFinals(observer, editor.keys))];
    return finals.every((f) => f.v === editor.lastSaved.get(f.key));
  });
  log(`settle: config ${converged ? "converged" : "did NOT converge within 60 s"}`);
  const lastKill = Math.max(0, ...fleet.killedAtMs.values());
  // A down is due one TTL after the last beat, later after a blind period; wait for every
  // killed node's down (or long enough), then two TTLs more for a late or invented one.
  const allDowns = () => [...fleet.killedAtMs.keys()].every((n) => watch.downs.has(n));
  const due = lastKill + TTL_MS + BLIND_GRACE_MS + 30_000 - Date.now();
  await waitFor("downs", Math.max(0, due), allDowns);
  await sleep(2 * TTL_MS);
  log(`settle: ${watch.downs.size} nodes reported down live, ${fleet.killedAtMs.size} killed`);
}

/** Waits for analytics to store the snapshot, then every message against the tables. */
async function judgeAnalytics(
  observer: NatsConnection,
  stack: ChaosStack,
  snap: StreamSnapshot,
  notes: string[],
): Promise<ChaosCheck[]> {
  const lastOf = (family: string): number =>
    Math.max(0, ...snap.events.filter((e) => e.family === family).map((e) => e.seq));
  const targets = {
    heartbeats: snap.heartbeatLastSeq,
    node: lastOf("node"),
    config: lastOf("config"),
  };
  await waitAnalyticsDrained(observer, targets, () => pidAlive(stack.analytics.pid)).catch(
    (err: unknown) => notes.push(`analytics: ${err instanceof Error ? err.message : String(err)}`),
  );
  const rows = await readAnalyticsRows(stack.dbUrl, snap.heartbeatLastSeq, snap.eventLastSeq);
  const hb = tallyHeartbeatRows(snap.heartbeats, rows.heartbeats);
  const idsOf = (family: string): string[] =>
    snap.events.filter((e) => e.family === family).map((e) => e.id);
  const nodeRows = tallyEventRows(idsOf("node"), rows.nodeEventIds);
  const cfgRows = tallyEventRows(idsOf("config"), rows.configEventIds);
  for (const [what, t] of [
    ["heartbeats", hb],
    ["node_events", nodeRows],
    ["config_events", cfgRows],
  ] as const) {
    for (const sample of t.samples) notes.push(`${what}: ${sample}`);
  }
  for (const r of rows.rejects.slice(0, 5))
    notes.push(`reject: ${r.stream} #${r.seq}: ${r.reason}`);
  return [
    ...rowChecks("heartbeats", "KON_HB", hb),
    ...rowChecks("node_events", "KON_EVENTS node", nodeRows),
    ...rowChecks("config_events", "KON_EVENTS config", cfgRows),
    {
      area: "analytics",
      check: "rejects: messages analytics refused (ingest_rejects)",
      checked: `${snap.heartbeats.length + snap.events.length} messages`,
      failures: rows.rejects.length,
    },
  ];
}

/** Reads both streams, waits for analytics to store them, and judges everything. */
async function judge(o: ChaosOptions, stack: ChaosStack, load: Load): Promise<ChaosResult> {
  const { observer, editor, watchers, fleet } = load;
  const notes: string[] = [];
  const configFinals = [...watchers.finals(), ...(await bucketFinals(observer, editor.keys))];
  const config = tallyConfig(editor.lastSaved, configFinals, watchers.observations);
  const sentBeforeSnapshot = fleet.sent;
  const snap = await snapshotStreams(observer);
  const nodeEvents = snap.events.flatMap((e) => (e.node ? [e.node] : []));
  const downs = tallyDowns(fleet.nodeIds, fleet.killedAtMs, nodeEvents);
  const checks: ChaosCheck[] = [
    ...configChecks(config, watchers.nodes, editor.keys.length),
    ...downChecks(downs),
    ...(await judgeAnalytics(observer, stack, snap, notes)),
  ];
  const add = (what: string, samples: readonly string[]): void => {
    for (const s of samples) notes.push(`${what}: ${s}`);
  };
  add("config", config.samples);
  add("downs", downs.samples);
  notes.push(
    `load: ${editor.saves} config edits saved; ${sentBeforeSnapshot} beats sent before the ` +
      `snapshot (core NATS, no ack: those in flight at a broker kill never reach KON_HB), ` +
      `${fleet.skipped} not built ` +
      `while the fleet's connection was down; simulator timer at most ` +
      `${Math.round(fleet.maxLatenessMs())} ms late; SDK refusals ${watchers.refusals()}, ` +
      `SDK warnings ${watchers.logger.warnings}`,
  );
  if (watchers.logger.warnings > 0)
    notes.push(`last SDK warnings: ${watchers.logger.last.join(" | ")}`);
  notes.push(upsNote(nodeEvents, fleet.nodeIds.length));
  notes.push(
    `streams at the snapshot: ${snap.states.join("; ")}; read ${snap.heartbeats.length} heartbeats, ` +
      `${snap.events.length} events`,
  );
  notes.push(
    `services: loader started ${stack.loader.starts}x, monitor ${stack.monitor.starts}x, ` +
      `analytics ${stack.analytics.starts}x; ${o.drills.length} drills`,
  );
  return { checks, drills: [], notes };
}

/** The whole run after the stack is up: load, drills, settle, judge. */
export async function runChaos(
  o: ChaosOptions,
  stack: ChaosStack,
  cleanup: CleanupStack,
  log: (l: string) => void,
): Promise<ChaosResult> {
  const load = await startLoad(o, stack, cleanup, log);
  await sleep(Math.max(2 * TTL_MS, 5000));
  const drills: DrillRecord[] = [];
  const failures: string[] = [];
  for (const drill of o.drills) {
    const out = await runDrill(drill, {
      stack,
      fleet: load.fleet,
      editor: load.editor,
      outageMs: o.outageMs,
      calmMs: o.calmMs,
      log,
    });
    drills.push(out.record);
    if (out.failure) failures.push(`${drill}: ${out.failure}`);
  }
  await settle(load, log);
  const dead = [stack.loader, stack.monitor, stack.analytics].filter((s) => !pidAlive(s.pid));
  const result = await judge(o, stack, load);
  // A process that died on its own after a drill is a failure of its own, whatever it lost.
  const alive: ChaosCheck = {
    area: "recovery",
    check: "no service process died on its own",
    checked: "3 services",
    failures: dead.length,
  };
  const recovery: ChaosCheck = {
    area: "recovery",
    check: "every service healthy again after the restart",
    checked: `${drills.length} drills`,
    failures: failures.length,
  };
  return {
    checks: [recovery, alive, ...result.checks],
    drills,
    notes: [
      ...failures.map((f) => `recovery: ${f}`),
      ...dead.map((d) => `${d.name} died on its own; its last output:\n${d.output().slice(-2500)}`),
      ...result.notes,
    ],
  };
}
