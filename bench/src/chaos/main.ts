// make chaos / npm run chaos — fault drills on a local stack started through testkit: kill -9 of
// NATS, the config-loader, the liveness monitor and PostgreSQL under load, each followed by
// recovery, then a table of what was checked and what held. Exit code 0 only when nothing failed.
// `npm run chaos -- --help`.
import { connect } from "@nats-io/transport-node";
import { withClient } from "@konorkestra/testkit";
import { benchOptions } from "../bench-flags";
import { CleanupStack } from "../cleanup-stack";
import { redisVersion } from "../liveness/redis-version";
import { collectMachineInfo, commandLine, formatMachineInfo } from "../machine-info";
import { parseChaosOptions, USAGE } from "./chaos-options";
import type { ChaosOptions } from "./chaos-options";
import { chaosExitCode, formatChaosTable, formatDrillTable } from "./chaos-report";
import { runChaos } from "./chaos-run";
import { startChaosStack } from "./chaos-stack";
import type { ChaosStack } from "./chaos-stack";

const out = (line = ""): void => void process.stdout.write(line + "\n");
const startedAt = Date.now();
const log = (line: string): void =>
  out(`... [${((Date.now() - startedAt) / 1000).toFixed(0).padStart(4)} s] ${line}`);

async function serverVersions(stack: ChaosStack): Promise<Record<string, string>> {
  const nc = await connect({ ...stack.nats.clientOptions(), name: "chaos-version" });
  const nats = nc.info?.version ?? "?";
  await nc.close();
  const pg = await withClient(stack.dbUrl, async (c) => {
    const r = await c.query<{ v: string }>(
      "SELECT current_setting('server_version') || ' + timescaledb ' || " +
        "(SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS v",
    );
    return r.rows[0]?.v ?? "?";
  });
  return {
    "nats-server": nats,
    postgresql: pg,
    "redis-server": await redisVersion(stack.redis.url),
  };
}

function printHeader(o: ChaosOptions, stack: ChaosStack, versions: Record<string, string>): void {
  const cmd = commandLine();
  out("make chaos — fault drills: kill -9 under load, recovery, then what held");
  out(`command: ${cmd.npm ?? cmd.node}`);
  if (cmd.npm) out(`         (${cmd.node})`);
  for (const line of formatMachineInfo(collectMachineInfo(versions))) out(line);
  out(
    `stack:   testkit servers on loopback (TLS, accounts); config-loader, monitor and analytics ` +
      `as child processes, each on its own NATS credential`,
  );
  out(`postgres: ${stack.pgSettings.join(" ")} (analytics' database)`);
  out(
    `load:    ${o.nodes} simulated nodes at 1 Hz (TTL 3 s); ${o.configNodes} SDK config nodes ` +
      `watching ${o.keys} keys; one edit saved every ${o.editEveryMs} ms`,
  );
  out(
    `drills:  ${o.drills.join(", ")}; each: a node killed before the fault and one during it, ` +
      `down ${o.outageMs} ms, calm ${o.calmMs} ms after recovery`,
  );
}

async function main(): Promise<number> {
  const o = benchOptions(parseChaosOptions, USAGE);
  if (typeof o === "number") return o;
  const cleanup = new CleanupStack();
  cleanup.runOnSignals((s) => process.stderr.write(`\n${s}: stopping the stack\n`));
  let stack: ChaosStack | undefined;
  try {
    log("starting nats-server, PostgreSQL+TimescaleDB, Redis, then loader, monitor, analytics");
    stack = await startChaosStack(cleanup);
    printHeader(o, stack, await serverVersions(stack));
    const result = await runChaos(o, stack, cleanup, log);
    const code = chaosExitCode(result.checks);
    out();
    out(`drills (${((Date.now() - startedAt) / 1000).toFixed(0)} s in all):`);
    for (const line of formatDrillTable(result.drills)) out(line);
    out();
    for (const line of formatChaosTable(result.checks)) out(line);
    out();
    for (const note of result.notes) out(`note: ${note}`);
    out(code === 0 ? "RESULT: every check held" : "RESULT: FAILED (see the table and notes)");
    return code;
  } catch (err) {
    process.stderr.write(
      `chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    if (stack) {
      for (const slot of [stack.loader, stack.monitor, stack.analytics]) {
        process.stderr.write(`--- ${slot.name} output (tail)\n${slot.output().slice(-3000)}\n`);
      }
    }
    return 1;
  } finally {
    await cleanup.run();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`chaos: ${String(err)}\n`);
    process.exit(1);
  },
);
