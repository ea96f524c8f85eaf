import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import { spawnTs } from "@konorkestra/testkit";
import { NodeSimulator } from "./node-simulator";
import type { SimulatorOptions, SimulatorStats } from "./node-simulator";
import type { BeatSink } from "./node-simulator";

/** The simulated fleet as a row drives it: in this process, or in a process of its own. */
export interface FleetSimulator {
  /** The simulator's own process, when it has one (its CPU is then measured by pid). */
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** Stops these nodes without a word, as a crash would. */
  stop(indexes: readonly number[]): Promise<void>;
  mark(): Promise<void>;
  stats(): Promise<SimulatorStats>;
  /** Stops every node; beats already handed to the connection are flushed first. */
  close(): Promise<void>;
  /** Beats sent since the start (all of them, once closed). */
  readonly sent: number;
}

/** How a simulator process reaches NATS as the group's nodes (a member's connection). */
export interface MemberConnection {
  readonly servers: string[];
  /** CA file of the servers' TLS. */
  readonly caFile?: string;
  /** The group's join key, sent as the connection's token (the auth callout checks it). */
  readonly token: string;
  readonly inboxPrefix: string;
  /** Wire-name prefix (`kon`): heartbeat subjects come from the SDK's names. */
  readonly prefix: string;
}

/** The simulator in this process, beating into `sink`. */
export function localSimulator(
  sink: BeatSink & { readonly sent?: number },
  opts: SimulatorOptions,
): FleetSimulator {
  const sim = new NodeSimulator(sink, opts);
  let beats = 0;
  return {
    pid: undefined,
    start: () => Promise.resolve(sim.start()),
    stop: (indexes) => Promise.resolve(sim.stop(indexes)),
    mark: () => Promise.resolve(sim.mark()),
    stats: () => Promise.resolve(sim.stats()),
    close: () => {
      beats = sim.stats().beatsTotal;
      sim.close();
      return Promise.resolve();
    },
    get sent() {
      return sink.sent ?? beats;
    },
  };
}

const MAIN = join(__dirname, "simulator-main.ts");

/** Messages between the bench and its simulator process. */
export type SimRequest =
  | { op: "init"; conn: MemberConnection; sim: Omit<SimulatorOptions, "encoder"> }
  | { op: "start" | "mark" | "stats" | "close" }
  | { op: "stop"; indexes: number[] };
export type SimReply =
  | { id: number; ok: true; stats?: SimulatorStats; sent?: number }
  | { id: number; ok: false; error: string };

/**
 * The simulator in a process of its own (`simulator-main.ts`), connected as the group's nodes
 * with `conn`: its event loop serves nothing but the beats (the bench's observer can take a burst
 * of 30,000 `node.up` events without delaying a beat), and its CPU is its process's.
 */
export async function startSimulatorProcess(
  conn: MemberConnection,
  opts: Omit<SimulatorOptions, "encoder">,
  timeoutMs = 120_000,
): Promise<FleetSimulator> {
  const child: ChildProcess = spawnTs(MAIN, [], { stdio: ["pipe", "pipe", "pipe", "ipc"] });
  let output = "";
  const keep = (d: Buffer): void => void (output = (output + d.toString()).slice(-4000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const killOnExit = (): void => void child.kill("SIGKILL");
  process.once("exit", killOnExit);
  let next = 1;
  const pending = new Map<number, { resolve: (r: SimReply) => void; reject: (e: Error) => void }>();
  child.on("message", (m: SimReply) => pending.get(m.id)?.resolve(m));
  const exited = new Promise<void>((r) =>
    child.once("exit", (code, signal) => {
      process.removeListener("exit", killOnExit);
      for (const p of pending.values()) {
        p.reject(new Error(`simulator process exited (${code ?? signal}):\n${output}`));
      }
      pending.clear();
      r();
    }),
  );
  const call = async (req: SimRequest, ms = 30_000): Promise<SimReply & { ok: true }> => {
    const id = next++;
    const reply = await new Promise<SimReply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`simulator: no answer to ${req.op}`)), ms);
      pending.set(id, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      child.send({ ...req, id });
    }).finally(() => pending.delete(id));
    if (!reply.ok) throw new Error(`simulator ${req.op}: ${reply.error}`);
    return reply;
  };
  let sent = 0;
  try {
    await call({ op: "init", conn, sim: opts }, timeoutMs);
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw err;
  }
  return {
    pid: child.pid,
    start: async () => void (await call({ op: "start" })),
    stop: async (indexes) => void (await call({ op: "stop", indexes: [...indexes] })),
    mark: async () => void (await call({ op: "mark" })),
    stats: async () => (await call({ op: "stats" })).stats!,
    close: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        sent = (await call({ op: "close" })).sent ?? 0;
      } finally {
        const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(timer);
      }
    },
    get sent() {
      return sent;
    },
  };
}
