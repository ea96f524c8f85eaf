// bench:consistency — STRONG commit vs EVENTUAL propagation, and the spread of a scheduled swap,
// over 1,000 handles on 50 SDK connections. See docs/benchmarks.md, "Consistency".
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { jetstream } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { connect, headers } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import {
  ConfigEntry,
  ConsistencyMode,
  Heartbeat,
  decodeMessage,
  encodeMessage,
} from "@konorkestra/proto";
import type { ConfigEntryInit } from "@konorkestra/proto";
import { PrepareCoordinator } from "@konorkestra/config-loader";
import { silentLogger } from "@konorkestra/sdk";
import { KonHeader, ensureConfigBucket, kvSubject, wireNames } from "@konorkestra/sdk/internal";
import { spawnTs, startNats } from "@konorkestra/testkit";
import {
  REPEAT_FLAG,
  REPEAT_USAGE,
  benchOptions,
  parseBenchFlags,
  repeatCase,
  repeatShape,
} from "../bench-flags";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import { summarizeLatencies } from "../propagation/latency-summary";
import { figuresJson, formatFigures } from "../repeat-figures";
import type { RepeatFigure } from "../repeat-figures";
import { ConsistencyFleet, preciseNow } from "./consistency-fleet";
import type { Round } from "./consistency-fleet";
import { SwapPassProbe, describeSpread } from "./swap-pass-probe";
import type { SwapBreakdown } from "./swap-pass-probe";

const USAGE = `usage: npm run bench:consistency -- [flags]
  --handles N         config handles (default 1000)
  --connections N     SDK connections they are spread over (default 50)
  --rounds N          changes per kind and run (default 100: p99 is then the second-worst
                      sample, not the maximum)
  --lead-ms N         how far ahead a scheduled change's activate_at is (default 300)
${REPEAT_USAGE}`;

const flagSchema = z.object({
  handles: z.coerce.number().int().min(1).max(100_000).default(1000),
  connections: z.coerce.number().int().min(1).max(1000).default(50),
  rounds: z.coerce.number().int().min(1).max(1000).default(100),
  "lead-ms": z.coerce.number().int().min(50).max(60_000).default(300),
  ...repeatShape,
  help: z.boolean().optional(),
});
type Options = z.output<typeof flagSchema>;

const GROUP = "bench-consistency";
const KEY = "app";
const names = wireNames();

interface RunResult {
  prepareP50: number;
  prepareP99: number;
  eventualP50: number;
  activationSpreadP50: number;
  activationSpreadP99: number;
  strongP50: number;
  strongP99: number;
  eventualP99: number;
  ratio: number;
  failures: number;
  spreadParts: SwapBreakdown[];
  /** Median process CPU (ms) of an eventual round, a prepare round and a whole strong round. */
  cpuP50: { eventual: number; prepare: number; strong: number };
  /** GC pauses of the bench process over the run. */
  gc: { count: number; ms: number; longest: string };
  seconds: number;
}

const FIGURES: RepeatFigure<RunResult>[] = [
  {
    key: "activation_spread_p99_ms",
    label: "activation spread p99",
    unit: "ms",
    worse: "higher",
    of: (r) => r.activationSpreadP99,
    limit: 5,
  },
  {
    key: "strong_commit_p50_ms",
    label: "strong commit p50",
    unit: "ms",
    worse: "higher",
    of: (r) => r.strongP50,
  },
  {
    key: "strong_commit_p99_ms",
    label: "strong commit p99",
    unit: "ms",
    worse: "higher",
    of: (r) => r.strongP99,
  },
  {
    key: "eventual_last_p99_ms",
    label: "eventual last-watcher p99",
    unit: "ms",
    worse: "higher",
    of: (r) => r.eventualP99,
  },
  {
    key: "strong_over_eventual_p99",
    label: "strong p99 / eventual p99",
    unit: "x",
    worse: "higher",
    of: (r) => r.ratio,
    limit: 3,
  },
];

function entry(v: number, extra: Partial<ConfigEntryInit> = {}): ConfigEntryInit {
  const payload = Buffer.from(JSON.stringify({ v }));
  return {
    key: KEY,
    payload,
    contentType: "application/json",
    sha256: createHash("sha256").update(payload).digest("hex"),
    sourcePath: `${KEY}.json`,
    updatedAtMs: Date.now(),
    publishedBy: "bench",
    ...extra,
  };
}

async function put(nc: NatsConnection, e: ConfigEntryInit): Promise<number> {
  const h = headers();
  h.set(KonHeader.ChangeSet, randomUUID());
  h.set(KonHeader.ChangeSetSize, "1");
  const ack = await jetstream(nc).publish(
    kvSubject(names.configBucket(GROUP), KEY),
    encodeMessage(ConfigEntry, e),
    { headers: h },
  );
  return ack.seq;
}

async function settle(round: Round, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    round.done,
    new Promise(
      (_, reject) =>
        (timer = setTimeout(
          () =>
            reject(
              new Error(
                `${what}: not every handle saw v=${round.v} within 10 s (${round.times.length})`,
              ),
            ),
          10_000,
        )),
    ),
  ]).finally(() => clearTimeout(timer));
}

/** Waits until the monitor lists `n` nodes of the group running KEY (the voters). */
async function waitForVoters(nc: NatsConnection, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const kv = await new Kvm(nc).open(names.nodesBucket).catch(() => undefined);
    let count = 0;
    if (kv && (await kv.status().catch(() => undefined))) {
      for await (const k of await kv.keys(`${GROUP}.>`)) {
        const e = await kv.get(k);
        if (
          e?.operation === "PUT" &&
          e.value.length > 0 &&
          decodeMessage(Heartbeat, e.value).config[KEY]
        )
          count++;
      }
    }
    if (count >= n) return;
    if (Date.now() > deadline)
      throw new Error(`only ${count} of ${n} voters listed in ${names.nodesBucket} after 60 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** What one run collects, round by round. */
class RunSamples {
  readonly eventual: number[] = [];
  readonly strong: number[] = [];
  readonly prepares: number[] = [];
  readonly spread: number[] = [];
  readonly spreadParts: SwapBreakdown[] = [];
  /** Process CPU (ms, all threads) of each eventual round, prepare round and strong round. */
  readonly cpu = { eventual: [] as number[], prepare: [] as number[], strong: [] as number[] };
  failures = 0;
}

const cpuSince = (from: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

interface RoundContext {
  o: Options;
  nc: NatsConnection;
  fleet: ConsistencyFleet;
  coordinator: PrepareCoordinator;
  probe: SwapPassProbe;
  /** Whether this round is recorded (false during warm-up). */
  record: boolean;
}

async function eventualRound(x: RoundContext, v: number, out: RunSamples): Promise<void> {
  const round = x.fleet.expect(v, x.o.handles);
  const c0 = process.cpuUsage();
  const t0 = preciseNow();
  await put(x.nc, entry(v));
  await settle(round, "eventual");
  if (!x.record) return;
  out.eventual.push(Math.max(...round.times) - t0);
  out.cpu.eventual.push(cpuSince(c0));
}

/** @returns false when the prepare round aborted (nothing was committed) */
async function strongRound(x: RoundContext, v: number, out: RunSamples): Promise<boolean> {
  const round = x.fleet.expect(v, x.o.handles);
  const c0 = process.cpuUsage();
  const t0 = preciseNow();
  const e = entry(v, { consistency: ConsistencyMode.STRONG });
  const outcome = await x.coordinator.prepare(GROUP, [e], 3000);
  if (x.record) {
    out.prepares.push(preciseNow() - t0);
    out.cpu.prepare.push(cpuSince(c0));
  }
  if (!outcome.ok) {
    if (x.record) out.failures++;
    return false;
  }
  await put(x.nc, { ...e, prepareId: outcome.prepareId });
  await settle(round, "strong");
  if (x.record) {
    out.strong.push(Math.max(...round.times) - t0);
    out.cpu.strong.push(cpuSince(c0));
  }
  return true;
}

/** Schedules `v` over the current `v - 1` (re-put unchanged, as the revision it replaces). */
async function scheduledRound(x: RoundContext, v: number, out: RunSamples): Promise<void> {
  const previous = await put(x.nc, entry(v - 1));
  await new Promise((r) => setTimeout(r, 20));
  const activateAtMs = Date.now() + x.o["lead-ms"];
  x.probe.arm(activateAtMs);
  const round = x.fleet.expect(v, x.o.handles, x.probe);
  await put(x.nc, entry(v, { activateAtMs, previousRevision: previous }));
  await settle(round, "scheduled");
  const parts = x.probe.settle(round.times);
  if (!x.record) return;
  out.spread.push(parts.spreadMs);
  out.spreadParts.push(parts);
}

async function oneRun(
  o: Options,
  nc: NatsConnection,
  fleet: ConsistencyFleet,
  coordinator: PrepareCoordinator,
  next: () => number,
  probe: SwapPassProbe,
): Promise<RunResult> {
  const runStart = preciseNow();
  const r = new RunSamples();
  // Alternate the kinds, so that both see the same machine. The first WARMUP rounds of each kind
  // are not recorded (the coordinator's first round reads the voters before its watch of
  // kon_nodes has loaded; JIT).
  const WARMUP = 2;
  for (let i = -WARMUP; i < o.rounds; i++) {
    const x: RoundContext = { o, nc, fleet, coordinator, probe, record: i >= 0 };
    await eventualRound(x, next(), r);
    if (!(await strongRound(x, next(), r))) continue;
    await scheduledRound(x, next(), r);
  }
  const s = summarizeLatencies(r.strong, r.failures);
  const ev = summarizeLatencies(r.eventual);
  const sp = summarizeLatencies(r.spread);
  const pr = summarizeLatencies(r.prepares);
  const p50 = (xs: number[]): number => summarizeLatencies(xs).p50;
  return {
    activationSpreadP50: sp.p50,
    activationSpreadP99: sp.p99,
    prepareP50: pr.p50,
    prepareP99: pr.p99,
    eventualP50: ev.p50,
    strongP50: s.p50,
    strongP99: s.p99,
    eventualP99: ev.p99,
    ratio: s.p99 / ev.p99,
    failures: r.failures,
    spreadParts: r.spreadParts.map((p) => probe.withGc(p)),
    cpuP50: {
      eventual: p50(r.cpu.eventual),
      prepare: p50(r.cpu.prepare),
      strong: p50(r.cpu.strong),
    },
    gc: probe.gcIn(runStart, preciseNow()),
    seconds: (preciseNow() - runStart) / 1000,
  };
}

async function main(): Promise<number> {
  const parsed = benchOptions(
    (args) =>
      parseBenchFlags(
        args,
        { strings: ["handles", "connections", "rounds", "lead-ms", REPEAT_FLAG], booleans: [] },
        flagSchema,
        USAGE,
      ),
    USAGE,
  );
  if (typeof parsed === "number") return parsed;
  const o = parsed;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const nats = await startNats();
  const snapshotRoot = await mkdtemp(join(tmpdir(), "kon-bench-consistency-"));
  const monitor = spawnTs(join(__dirname, "..", "..", "..", "heartbeat", "src", "main.ts"), [], {
    env: {
      ...process.env,
      ...nats.clientEnv(),
      KON_MONITOR_ID: "bench",
      KON_MONITOR_PORT: "0",
      KON_AUTH: "off",
    },
    stdio: "ignore",
  });
  let fleet: ConsistencyFleet | undefined;
  const nc = await connect(nats.clientOptions());
  try {
    const machine = collectMachineInfo({ "nats-server": nc.info?.version ?? "?" });
    const cmd = commandLine();
    out("bench:consistency — STRONG commit vs EVENTUAL propagation, scheduled swap spread");
    out(`command: ${cmd.npm ?? cmd.node}`);
    if (cmd.npm) out(`         (${cmd.node})`);
    for (const line of formatMachineInfo(machine)) out(line);
    out(
      `setup:   ${o.handles} handles over ${o.connections} connections (one process), ${o.rounds} changes per kind per run (+2 warm-up; p99 is the sample of nearest rank ${Math.ceil(0.99 * o.rounds)} of ${o.rounds}), scheduled changes ${o["lead-ms"]} ms ahead; liveness monitor in its own process`,
    );
    await ensureConfigBucket(nc, names, GROUP, { replicas: 1 });
    await put(nc, entry(0));
    fleet = await ConsistencyFleet.start({
      client: nats.clientOptions(),
      group: GROUP,
      key: KEY,
      connections: o.connections,
      handles: o.handles,
      snapshotRoot,
      logger: silentLogger,
    });
    await waitForVoters(nc, o.connections);
    const coordinator = new PrepareCoordinator(nc, names, "bench", silentLogger);
    let v = 0;
    const f = fleet;
    const probe = new SwapPassProbe();
    const runs = await repeatCase(
      o.repeat,
      () => oneRun(o, nc, f, coordinator, () => ++v, probe),
      (r, i) => {
        out(
          `run ${i + 1}: activation spread p50 ${r.activationSpreadP50.toFixed(2)} / p99 ${r.activationSpreadP99.toFixed(2)} ms; strong commit p50 ${r.strongP50.toFixed(2)} / p99 ${r.strongP99.toFixed(2)} ms; eventual last-watcher p50 ${r.eventualP50.toFixed(2)} / p99 ${r.eventualP99.toFixed(2)} ms; of strong, the prepare round p50 ${r.prepareP50.toFixed(2)} / p99 ${r.prepareP99.toFixed(2)} ms; ratio ${r.ratio.toFixed(2)}; aborted ${r.failures}`,
        );
        for (const line of describeSpread(r.spreadParts)) out(line);
        out(
          `  process CPU per round p50: eventual ${r.cpuP50.eventual.toFixed(2)} ms; strong ${r.cpuP50.strong.toFixed(2)} ms, of which the prepare round ${r.cpuP50.prepare.toFixed(2)} ms`,
        );
        out(
          `  run took ${r.seconds.toFixed(0)} s; GC pauses of the bench process: ${r.gc.count} (${r.gc.ms.toFixed(1)} ms in all, longest ${r.gc.longest})`,
        );
      },
    );
    for (const line of formatFigures(runs, FIGURES, 28)) out(line);
    if (o.repeat > 1) out(figuresJson("consistency", runs, FIGURES));
    const worst = (k: Exclude<keyof RunResult, "spreadParts" | "gc" | "cpuP50">): number =>
      Math.max(...runs.map((r) => r[k]));
    const r2 = (x: number): number => Math.round(x * 100) / 100;
    out(
      JSON.stringify({
        bench: "consistency",
        activation_spread_p99_ms: r2(worst("activationSpreadP99")),
        strong_commit_p50_ms: r2(worst("strongP50")),
        strong_commit_p99_ms: r2(worst("strongP99")),
        eventual_last_p99_ms: r2(worst("eventualP99")),
      }),
    );
    return 0;
  } finally {
    await fleet?.close();
    await nc.close();
    if (monitor.exitCode === null) monitor.kill("SIGTERM");
    await nats.stop();
    await rm(snapshotRoot, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(
      `bench:consistency failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    process.exit(1);
  },
);
