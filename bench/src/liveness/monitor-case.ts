import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { monitorConsumerName, wireNames } from "@konorkestra/sdk/internal";
import { createTestTokens, startNats, startRedis } from "@konorkestra/testkit";
import { collectDeadlines, settledLastSeq, unwind, watchNodeEvents } from "./case-driver";
import type { CaseDriver, DownListener } from "./case-driver";
import { startSimulatorProcess } from "./fleet-simulator";
import { startMemberAuth } from "./member-auth";
import { natsBeatSink } from "./nats-beat-sink";
import { MonitorProbe } from "./monitor-probe";
import type { MonitorHealth } from "./monitor-probe";
import { startMonitorProcess } from "./monitor-process";
import type { MonitorProcess } from "./monitor-process";
import { redisVersion } from "./redis-version";
import { monitorsNotReady } from "../scaleout/monitor-readiness";

/** Heartbeats a monitor may still have waiting on KON_HB when the stopped nodes stop. */
const READY_MAX_PENDING = 3000;

/**
 * The liveness monitor with the given backend, as a separate process (one per row), fed by core
 * NATS heartbeats on `kon.hb.<group>.<node>` as the SDK sends them. Downs are the `node.down`
 * events on `kon.evt.<group>.node.down`; a deadline is the KON_HB timestamp of the node's last
 * stored heartbeat + TTL, which is also what the monitor judges by.
 *
 * Credentials as in production: each monitor connects with the monitor role's least-privilege
 * nkey and checks API tokens with an admin public key (the probe reads /metrics with a `read`
 * token); the simulated nodes join their group with a join key through the auth callout (see
 * {@link startMemberAuth}), over TLS. Only the observer uses the test user (all rights), to read
 * KON_HB and the consumers as no production role may.
 */
export async function startMonitorCase(
  backend: "nats" | "redis",
  group: string,
  cpuProfDir?: string,
  monitors = 1,
): Promise<CaseDriver> {
  const steps: (() => Promise<unknown>)[] = [];
  try {
    return await assemble(backend, group, steps, cpuProfDir, monitors);
  } catch (err) {
    await unwind(steps);
    throw err;
  }
}

async function assemble(
  backend: "nats" | "redis",
  group: string,
  steps: (() => Promise<unknown>)[],
  cpuProfDir: string | undefined,
  monitors: number,
): Promise<CaseDriver> {
  const names = wireNames("kon");
  const monitorId = `bench-${backend}`;
  const nats = await startNats();
  steps.push(() => nats.stop());
  const versions: Record<string, string> = {};
  const processes: Record<string, number> = { "nats-server": nats.pid };
  const tokens = createTestTokens();
  steps.push(() => Promise.resolve(tokens.remove()));
  const env: Record<string, string> = {
    ...nats.serviceEnv("monitor"),
    KON_LIVENESS_BACKEND: backend,
    KON_MONITOR_ID: monitorId,
    KON_AUTH_PUBLIC_KEY_FILE: tokens.publicKeyFile,
  };
  if (backend === "redis") {
    const redis = await startRedis();
    steps.push(() => redis.stop());
    env.KON_REDIS_URL = redis.url;
    processes["redis-server"] = redis.pid;
    versions["redis-server"] = await redisVersion(redis.url);
  }
  // Several monitors share the fleet (rendezvous ownership); the first is probed and profiled.
  const nodeArgs = cpuProfDir ? ["--cpu-prof", `--cpu-prof-dir=${cpuProfDir}`] : [];
  const others: MonitorProcess[] = [];
  const monitor = await startMonitorProcess(env, undefined, nodeArgs);
  steps.push(() => monitor.stop());
  processes.monitor = monitor.pid;
  for (let i = 2; i <= monitors; i++) {
    const m = await startMonitorProcess({ ...env, KON_MONITOR_ID: `${monitorId}-${i}` });
    steps.push(() => m.stop());
    processes[`monitor-${i}`] = m.pid;
    others.push(m);
  }
  // The fleet beats from a process of its own, joined as the group's nodes (see
  // startSimulatorProcess); `sink` (a member connection here) serves an in-process simulator.
  const auth = await startMemberAuth(nats, names, group);
  steps.push(() => auth.close());
  const pub = await auth.connectMember("bench-liveness-nodes-local");
  steps.push(() => pub.close());
  const obs = await connect({ ...nats.clientOptions(), name: "bench-liveness-observer" });
  steps.push(() => obs.close());
  versions["nats-server"] = obs.info?.version ?? "?";
  const jsm = await jetstreamManager(obs);
  const probe = new MonitorProbe(
    monitor.url,
    jsm,
    names.heartbeatStream,
    monitorConsumerName(names, monitorId),
    tokens.header(["read"]),
  );
  let health: MonitorHealth | undefined;
  steps.push(() => Promise.resolve(probe.stop()));
  const ups = new Set<string>();
  const sink = natsBeatSink(pub, (node) => names.heartbeatSubject(group, node));

  return {
    spec: {
      key: backend,
      label: `monitor, ${backend === "nats" ? "NATS" : "Redis"} backend`,
      deadlineBasis: "KON_HB timestamp of the last heartbeat",
      detection: `node.down event on ${names.eventSubject(group, "node.down")}`,
    },
    sink,
    // The stop waits until every monitor is current, joined, sees the others, and has at most
    // 0.1 s of beats at 30,000 nodes waiting on KON_HB: a stop while a monitor still digests the
    // start-up burst (every node's first beat is an up event and a record) measures that backlog,
    // not detection (as bench:scaleout does).
    notReady: () => monitorsNotReady([monitor, ...others], jsm, names, READY_MAX_PENDING),
    simulator: async (opts) => {
      const sim = await startSimulatorProcess(auth.member, opts);
      steps.push(() => sim.close());
      return sim;
    },
    processes,
    versions,
    auth: {
      how:
        "monitors: the monitor role's nkey, API tokens checked (probe: a read token); nodes: " +
        "the group's join key through the auth callout (admin's CalloutResponder in the bench process)",
      callouts: () => auth.callouts(),
    },
    startMeasuring: () => probe.start(),
    watch: (onDown: DownListener) => watchNodeEvents(obs, names, group, ups, onDown),
    upCount: () => ups.size,
    // Only the simulator writes to KON_HB here: every stored heartbeat has a sequence.
    lostBeats: async (sent) => {
      health = probe.stop();
      await pub.flush();
      const stored = await settledLastSeq(
        async () => (await jsm.streams.info(names.heartbeatStream)).state.last_seq,
      );
      return sent - stored;
    },
    deadlines: (nodes, ttlMs) =>
      collectDeadlines(nodes, async (node) => {
        const last = await jsm.direct.getMessage(names.heartbeatStream, {
          last_by_subj: names.heartbeatSubject(group, node),
        });
        return last ? { deadlineMs: last.time.getTime() + ttlMs, ref: `${last.seq}` } : undefined;
      }),
    notes: () => [
      ...(health ? [describeHealth(health)] : []),
      ...[monitor, ...others].flatMap((m, i) =>
        m.warnings() > 0
          ? [
              `monitor ${i + 1} wrote ${m.warnings()} warning/error lines; last: ` +
                m.lastWarnings(3).join(" | ").slice(0, 600),
            ]
          : [],
      ),
    ],
    close: () => unwind(steps),
  };
}

function describeHealth(h: MonitorHealth): string {
  return (
    `monitor in the measured window: heartbeat consumer current in ${Math.round(h.currentShare * 100)}% of ` +
    `${h.samples} samples, detection clock lag max ${Math.round(h.maxClockLagMs)} ms, KON_HB ` +
    `backlog max ${h.maxBacklog} heartbeats`
  );
}
