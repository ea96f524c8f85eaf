import { wireNames } from "@konorkestra/sdk/internal";
import { startNats } from "@konorkestra/testkit";
import { startMemberAuth } from "./member-auth";
import { natsBeatSink } from "./nats-beat-sink";
import { NodeSimulator } from "./node-simulator";
import type { BeatEncoder } from "./node-simulator";

/** The simulator's CPU per beat with each encoder, measured side by side. */
export interface SimulatorBeatCost {
  readonly nodes: number;
  /** Beats timed per encoder (over all rounds). */
  readonly beats: Readonly<Record<BeatEncoder, number>>;
  /** CPU microseconds per beat (the simulator's own accounting), per encoder. */
  readonly cpuUsPerBeat: Readonly<Record<BeatEncoder, number>>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The simulator's cost per beat before (`sdk`: every beat built and encoded by the SDK's
 * functions) and after (`template`), in this one process, on one TLS connection to a real
 * nats-server joined as a member through the auth callout, as in the runs: `rounds` rounds, each
 * running a fleet of `nodes` at 1 Hz (a `tickMs` timer) for `roundMs` with one encoder then
 * the other, so that load from elsewhere falls on both alike. CPU per beat is the simulator's
 * own figure (ticks plus the connection's flush, TLS included; see NodeSimulator).
 */
export async function measureSimulatorBeatCost(
  tickMs: number,
  nodes = 10_000,
  rounds = 3,
  roundMs = 1500,
): Promise<SimulatorBeatCost> {
  const nats = await startNats();
  const names = wireNames("kon");
  try {
    const auth = await startMemberAuth(nats, names, "bench");
    try {
      const nc = await auth.connectMember("bench-simulator-cost");
      const nodeIds = Array.from({ length: nodes }, (_, i) => `n${i}`);
      const sink = natsBeatSink(nc, (node) => names.heartbeatSubject("bench", node));
      const sims = {
        sdk: new NodeSimulator(sink, { group: "bench", nodeIds, tickMs, encoder: "sdk" }),
        template: new NodeSimulator(sink, { group: "bench", nodeIds, tickMs, encoder: "template" }),
      };
      const beats = { sdk: 0, template: 0 };
      const cpuUs = { sdk: 0, template: 0 };
      for (let r = 0; r < rounds; r++) {
        for (const enc of ["sdk", "template"] as const) {
          const sim = sims[enc];
          sim.start();
          // The first round warms the JIT up: not counted.
          await sleep(roundMs);
          const s = sim.stats();
          sim.close();
          await nc.flush();
          if (r === 0) continue;
          beats[enc] += s.beats;
          cpuUs[enc] += s.cpuS * 1e6;
        }
      }
      await nc.close();
      return {
        nodes,
        beats,
        cpuUsPerBeat: { sdk: cpuUs.sdk / beats.sdk, template: cpuUs.template / beats.template },
      };
    } finally {
      await auth.close();
    }
  } finally {
    await nats.stop();
  }
}
