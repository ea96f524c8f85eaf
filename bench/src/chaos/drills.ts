import type { ChaosFleet } from "./chaos-fleet";
import type { Drill } from "./chaos-options";
import type { DrillRecord } from "./chaos-report";
import type { ChaosStack } from "./chaos-stack";
import type { ConfigEditor } from "./config-editor";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long the services may take to answer healthy again after a restart. */
const RECOVERY_TIMEOUT_MS = 180_000;

export interface DrillContext {
  readonly stack: ChaosStack;
  readonly fleet: ChaosFleet;
  readonly editor: ConfigEditor;
  readonly outageMs: number;
  readonly calmMs: number;
  readonly log: (line: string) => void;
}

/** A drill's outcome: its record, and why the stack did not recover (undefined when it did). */
export interface DrillOutcome {
  readonly record: DrillRecord;
  readonly failure: string | undefined;
}

interface Fault {
  kill(): Promise<void>;
  restart(): Promise<void>;
}

function faultOf(drill: Drill, s: ChaosStack): Fault {
  switch (drill) {
    case "nats":
      // Same port, same JetStream store: clients reconnect to it as to a crashed broker.
      return { kill: () => s.nats.kill(), restart: () => s.nats.restart() };
    case "loader":
      return { kill: () => s.loader.kill9(), restart: () => s.loader.start() };
    case "monitor":
      return { kill: () => s.monitor.kill9(), restart: () => s.monitor.start() };
    case "postgres":
      return { kill: () => s.pg.kill(), restart: () => restartPostgres(s) };
  }
}

/**
 * After a kill -9 of the postmaster its backends take a moment to notice and exit; until they
 * have, a new postmaster refuses the data directory ("pre-existing shared memory block is still
 * in use"). Retry for a while, as an init system would.
 */
async function restartPostgres(s: ChaosStack): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await s.pg.restart();
      return;
    } catch (err) {
      if (attempt >= 30) throw err;
      await sleep(1000);
    }
  }
}

/** Waits until every service answers healthy; returns the names of those that never did. */
async function waitHealthy(s: ChaosStack, timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const slots = [s.loader, s.monitor, s.analytics];
    const health = await Promise.all(slots.map((x) => x.healthy()));
    const sick = slots.filter((_, i) => !health[i]).map((x) => x.name);
    if (sick.length === 0 || Date.now() > deadline) return sick;
    await sleep(250);
  }
}

/**
 * One drill under load: a node is killed just before the fault (its deadline falls in the
 * outage), the process is killed with SIGKILL, another node is killed while it is down, the
 * process is restarted (same port and store for a server), then the drill waits until every
 * service is healthy and lets the stack run calm before the next drill.
 */
export async function runDrill(drill: Drill, ctx: DrillContext): Promise<DrillOutcome> {
  const { stack, fleet, editor } = ctx;
  const fault = faultOf(drill, stack);
  const killedBefore = fleet.kill(1);
  const savesBefore = editor.saves;
  const t0 = Date.now();
  ctx.log(`drill ${drill}: kill -9 (nodes ${killedBefore.join(",")} killed just before)`);
  await fault.kill();
  await sleep(ctx.outageMs / 2);
  const killedDuring = fleet.kill(1);
  await sleep(ctx.outageMs / 2);
  const downMs = Date.now() - t0;
  const tRestart = Date.now();
  let failure: string | undefined;
  try {
    await fault.restart();
  } catch (err) {
    failure = `${drill} did not restart: ${String(err).slice(0, 500)}`;
  }
  const sick = failure ? [] : await waitHealthy(stack, RECOVERY_TIMEOUT_MS);
  if (sick.length > 0)
    failure = `not healthy within ${RECOVERY_TIMEOUT_MS / 1000} s: ${sick.join(", ")}`;
  const recoveryMs = Date.now() - tRestart;
  const editsDuring = editor.saves - savesBefore;
  ctx.log(
    `drill ${drill}: restarted, ${failure ?? "all services healthy"} after ${(recoveryMs / 1000).toFixed(1)} s ` +
      `(node ${killedDuring.join(",")} killed during the outage)`,
  );
  await sleep(ctx.calmMs);
  return {
    record: {
      drill,
      downMs,
      recoveryMs,
      nodesKilled: killedBefore.length + killedDuring.length,
      editsDuring,
    },
    failure,
  };
}
