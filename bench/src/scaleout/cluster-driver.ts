import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { monitorConsumerName, wireNames } from "@konorkestra/sdk/internal";
import type { CleanupStack } from "../cleanup-stack";
import { measureCpu } from "../ingest/process-cpu";
import type { CpuUse } from "../ingest/process-cpu";
import {
  collectDeadlines,
  countingSink,
  perNode,
  settledLastSeq,
  watchNodeEvents,
} from "../liveness/case-driver";
import type { CaseDriver, DownListener } from "../liveness/case-driver";
import { startMemberAuth } from "../liveness/member-auth";
import { MonitorProbe } from "../liveness/monitor-probe";
import type { MonitorHealth } from "../liveness/monitor-probe";
import { IngestMeter } from "./ingest-meter";
import { countStoredDowns, monitorsNotReady } from "./monitor-readiness";
import type { StoredDowns } from "./monitor-readiness";
import type { ScaleoutStage } from "./scaleout-stage";

/** The liveness driver of a scale-out run, plus what it measures beside detection. */
export interface ClusterDriver extends CaseDriver {
  readonly ingest: IngestMeter;
  /** PostgreSQL's CPU (postmaster and backends) over the measured window. */
  postgresCpu(): CpuUse | undefined;
  /** Monitor 1's consumer health over the window (sampled twice a second). */
  monitorHealth(): MonitorHealth | undefined;
  /** Downs seen per monitor-published event count (all of them, any node). */
  downEvents(): number;
  /** Downs KON_EVENTS stored, read when the simulator stopped (after `lostBeats`). */
  storedDowns(): StoredDowns | undefined;
  /** Heartbeats KON_HB stored (fleet and probes) once the simulator stopped. */
  storedBeats(): number;
}

/**
 * Beats go out as core NATS publishes from one connection per server (node i through server
 * i mod N), as a fleet spread over a cluster's servers would send them, each joined with the
 * group's join key through the auth callout as a node using the SDK joins (the monitors run on
 * the monitor role's nkey and check API tokens: the probe reads /metrics with a read token); downs are the monitors'
 * `node.down` events; a deadline is the KON_HB timestamp of the node's last stored heartbeat +
 * TTL (what the monitors judge by). The nodes stop only once every monitor is current, joined
 * and sees the others joined (`notReady`). Reuses the liveness benchmark's CaseDriver contract,
 * so `runCase` runs it.
 */
export async function startClusterDriver(
  stage: ScaleoutStage,
  group: string,
  cleanup: CleanupStack,
  /** Most heartbeats a monitor's consumer may have waiting for it to count as current. */
  maxPending: number,
): Promise<ClusterDriver> {
  const names = wireNames("kon");
  const opts = stage.clientOptions();
  const auth = await startMemberAuth(stage.nats[0]!, names, group);
  cleanup.push(() => auth.close());
  const pubs: NatsConnection[] = [];
  for (const [i, url] of opts.servers.entries()) {
    const nc = await auth.connectMember(`bench-scaleout-nodes-${i + 1}`, url);
    cleanup.push(() => nc.close());
    pubs.push(nc);
  }
  const obs = await connect({ ...opts, name: "bench-scaleout-observer" });
  cleanup.push(() => obs.close());
  const jsm = await jetstreamManager(obs);
  // The ingest's lag probes are another group's beats: the test user sends them.
  const ingest = await IngestMeter.open(obs, stage.analytics, stage.pgUrl);
  cleanup.push(() => ingest.close());
  const probe = new MonitorProbe(
    stage.monitors[0]!.url,
    jsm,
    names.heartbeatStream,
    monitorConsumerName(names, "scaleout-1"),
    stage.apiHeaders,
  );
  let health: MonitorHealth | undefined;
  let pgStop: (() => CpuUse) | undefined;
  let pgCpu: CpuUse | undefined;
  let ingestStarted: Promise<void> = Promise.resolve();
  let stored = 0;
  let downs = 0;
  let storedDowns: StoredDowns | undefined;
  const ups = new Set<string>();
  // Node ids end in their index: the same node always goes through the same server.
  const route = perNode((node) => pubs[Number(/(\d+)$/.exec(node)?.[1] ?? 0) % pubs.length]!);
  const subject = perNode((node) => names.heartbeatSubject(group, node));
  const sink = countingSink((node, payload) => {
    route(node).publish(subject(node), payload);
  });
  const processes = { ...stage.pids, bench: process.pid };
  const versions = { "nats-server": obs.info?.version ?? "?", postgresql: stage.pgVersion };

  return {
    spec: {
      key: "nats",
      label: `${stage.monitors.length} monitors, ${stage.nats.length}-server NATS cluster`,
      deadlineBasis: "KON_HB timestamp of the last heartbeat",
      detection: `node.down event on ${names.eventSubject(group, "node.down")}`,
    },
    sink,
    processes,
    versions,
    auth: {
      how:
        "monitors: the monitor role's nkey, API tokens checked (probe: a read token); nodes: " +
        "the group's join key through the auth callout (admin's CalloutResponder in the bench process)",
      callouts: () => auth.callouts(),
    },
    ingest,
    startMeasuring: () => {
      probe.start();
      pgStop = measureCpu({ postgres: stage.pg.pid });
      ingestStarted = ingest.start();
    },
    watch: (onDown: DownListener) =>
      watchNodeEvents(obs, names, group, ups, (node, at, ref) => {
        downs++;
        onDown(node, at, ref);
      }),
    notReady: () => monitorsNotReady(stage.monitors, jsm, names, maxPending),
    upCount: () => ups.size,
    lostBeats: async (sent) => {
      // First, before the nodes the simulator just stopped go down too (≥ one TTL from now).
      storedDowns = await countStoredDowns(obs, names, group);
      health = probe.stop();
      pgCpu = pgStop?.();
      await ingestStarted;
      await ingest.stop();
      await Promise.all(pubs.map((nc) => nc.flush()));
      stored = await settledLastSeq(
        async () => (await jsm.streams.info(names.heartbeatStream)).state.last_seq,
      );
      return sent + ingest.probes - stored;
    },
    deadlines: (nodes, ttlMs) =>
      collectDeadlines(nodes, async (node) => {
        const last = await jsm.direct.getMessage(names.heartbeatStream, {
          last_by_subj: names.heartbeatSubject(group, node),
        });
        return last ? { deadlineMs: last.time.getTime() + ttlMs, ref: `${last.seq}` } : undefined;
      }),
    notes: () =>
      stage.monitors.flatMap((m, i) =>
        m.warnings() > 0
          ? [
              `monitor ${i + 1} wrote ${m.warnings()} warning/error lines; last: ` +
                m.lastWarnings(3).join(" | ").slice(0, 600),
            ]
          : [],
      ),
    postgresCpu: () => pgCpu,
    monitorHealth: () => health,
    downEvents: () => downs,
    storedDowns: () => storedDowns,
    storedBeats: () => stored,
    // Everything it opened is on the run's cleanup stack.
    close: () => Promise.resolve(),
  };
}
