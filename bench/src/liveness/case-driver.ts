import type { NatsConnection } from "@nats-io/transport-node";
import { NodeEvent, decodeMessage } from "@konorkestra/proto";
import { parseNodeEventId } from "@konorkestra/sdk/internal";
import type { WireNames } from "@konorkestra/sdk/internal";
import type { FleetSimulator } from "./fleet-simulator";
import type { BeatSink, SimulatorOptions } from "./node-simulator";

/** The four rows of the benchmark. */
export type RowKey = "nats" | "redis" | "raw_nats" | "raw_redis";

/** What a row measures, as the report names it. */
export interface RowSpec {
  readonly key: RowKey;
  readonly label: string;
  /** Where the deadline's "last heartbeat" time comes from. */
  readonly deadlineBasis: string;
  /** What counts as the down reaching the bench. */
  readonly detection: string;
}

/** A node's deadline as the server tells it, and what names its last beat (when known). */
export interface ServerDeadline {
  readonly deadlineMs: number;
  readonly ref?: string;
}

/** Called when a down (or expiry) of a node reaches the bench. */
export type DownListener = (node: string, atMs: number, ref?: string) => void;

/**
 * One way of turning silence into a down, with its servers running: where beats go, how downs
 * are observed, and how the server tells each stopped node's deadline.
 */
export interface CaseDriver {
  readonly spec: RowSpec;
  /** Where an in-process simulator's beats go. */
  readonly sink: BeatSink;
  /** Optional: a simulator of the driver's own (e.g. in a process of its own) instead. */
  simulator?(opts: Omit<SimulatorOptions, "encoder">): Promise<FleetSimulator>;
  /** Name → pid of the processes whose CPU and memory the row reports. */
  readonly processes: Readonly<Record<string, number>>;
  /** Server name → version. */
  readonly versions: Readonly<Record<string, string>>;
  /**
   * How the services and the nodes authenticate, and how many auth-callout checks the nodes'
   * connections cost so far (the row reports those made in the measured window).
   */
  readonly auth?: { readonly how: string; callouts(): number };
  /** Starts observing downs (and ups); call before the first beat. */
  watch(onDown: DownListener): Promise<void>;
  /**
   * Optional: why the watched side cannot judge downs yet (e.g. a monitor behind on KON_HB or
   * out of its membership), or undefined when it can. Polled after the warm-up; the chosen nodes
   * stop only once it has said undefined for a second (or a problem is recorded).
   */
  notReady?(): Promise<string | undefined>;
  /** The measured window starts (every node is up; the stop comes next). */
  startMeasuring?(): void;
  /** Nodes seen alive so far (the monitor's `node.up` events, or stored beats). */
  upCount(): number;
  /**
   * Beats sent (`sent`, as the simulator counted them) that the server did not store (a
   * dropped core publish, a refused publish or SET), counted from the server's own sequence
   * where there is one. Ask once the simulator has stopped.
   */
  lostBeats(sent: number): Promise<number>;
  /** Deadlines of these (stopped) nodes by the server's record; missing ones are left out. */
  deadlines(nodes: readonly string[], ttlMs: number): Promise<Map<string, ServerDeadline>>;
  /** Anything the report should mention (e.g. the monitor's warnings). */
  notes(): string[];
  /** Stops its processes and connections; safe to call twice. */
  close(): Promise<void>;
}

/** Runs `steps` in reverse order, each once, whatever the others do. */
export async function unwind(steps: (() => Promise<unknown>)[]): Promise<void> {
  for (const step of steps.splice(0).reverse()) {
    await step().catch((err: unknown) => {
      process.stderr.write(`  [warn] cleanup: ${String(err)}\n`);
    });
  }
}

/**
 * Looks every node's deadline up in parallel, each up to three times; a node whose look-up keeps
 * failing is left out (the row then reports it as a problem) instead of ending the run.
 */
export async function collectDeadlines(
  nodes: readonly string[],
  lookup: (node: string) => Promise<ServerDeadline | undefined>,
): Promise<Map<string, ServerDeadline>> {
  const out = new Map<string, ServerDeadline>();
  await Promise.all(
    nodes.map(async (node) => {
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          const d = await lookup(node);
          if (d) out.set(node, d);
          return;
        } catch (err) {
          if (attempt === 3) process.stderr.write(`  [warn] deadline of ${node}: ${String(err)}\n`);
        }
      }
    }),
  );
  return out;
}

/** Wraps a sink to count what went through it. */
export function countingSink(send: BeatSink["send"]): BeatSink & { readonly sent: number } {
  let sent = 0;
  return {
    send: (node, payload) => {
      sent++;
      send(node, payload);
    },
    get sent() {
      return sent;
    },
  };
}

/**
 * `of(node)` remembered per node: a node's subject (or connection) is the same every beat, and
 * the names' validation is not per-beat work.
 */
export function perNode<T>(of: (node: string) => T): (node: string) => T {
  const known = new Map<string, T>();
  return (node) => {
    if (known.has(node)) return known.get(node)!;
    const v = of(node);
    known.set(node, v);
    return v;
  };
}

/**
 * The last sequence of a stream once it stops moving: JetStream stores what a flushed core
 * publish delivered a little later, so one read right after the flush can come up short.
 */
export async function settledLastSeq(read: () => Promise<number>): Promise<number> {
  let last = await read();
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await read();
    if (now === last) return now;
    last = now;
  }
  return last;
}

/**
 * Watches a group's node events as the monitors publish them (a core subscription: every
 * publish, before the stream's duplicate window): ups go into `ups`, downs to `onDown` with the
 * KON_HB sequence their event id names (the node's last heartbeat).
 */
export function watchNodeEvents(
  nc: NatsConnection,
  names: WireNames,
  group: string,
  ups: Set<string>,
  onDown: DownListener,
): Promise<void> {
  nc.subscribe(names.groupEventFilter(group, "node"), {
    callback: (err, msg) => {
      if (err) return;
      const at = Date.now();
      const ev = decodeMessage(NodeEvent, msg.data);
      if (ev.kind === NodeEvent.Kind.UP) ups.add(ev.nodeId);
      else if (ev.kind === NodeEvent.Kind.DOWN) {
        onDown(ev.nodeId, at, parseNodeEventId(ev.eventId)?.ref);
      }
    },
  });
  return nc.flush();
}
