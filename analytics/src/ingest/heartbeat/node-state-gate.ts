import type { HeartbeatTuple } from "./heartbeat-tuples";
import { configJson, nodeStateRow } from "./node-state-row";
import type { NodeStateRow } from "./node-state-row";

/** What a beat-only node_state update writes: the tuple's own fields, no decode. */
export type BeatFields = Pick<
  NodeStateRow,
  "timeMs" | "group" | "node" | "seq" | "sentMs" | "streamSeq"
>;

/** A node's newest beat of a batch, due for a node_state upsert. */
export interface NodeStateUpdate {
  /** The beat's fields (the whole decoded row when `full` is set). */
  row: BeatFields;
  /** The beat fully decoded, for a full write (decoded only then: most updates move the beat). */
  full: NodeStateRow | null;
  /** The beat itself, for a full decode when a beat-only update finds the row gone. */
  tuple: HeartbeatTuple;
  /** The gate's key (the subject) and state hash, remembered after COMMIT. */
  key: string;
  stateHash: number;
  /**
   * The full config as JSON when the whole row is to be written (a node this process has not
   * written yet, or whose process, interval or config changed); null when only the beat moved.
   */
  config: string | null;
}

interface Written {
  timeMs: number;
  stateHash: number;
}

/** Beyond this many nodes the memory is dropped and rebuilt (a bound, not a working size). */
const MAX_NODES = 1_000_000;

/**
 * Decides which nodes of a batch need their node_state row written: the newest beat per node,
 * when the row this process last committed for it is older than the resolution or the process
 * or config changed (its state hash differs). At 10,000 nodes × 1 Hz nearly every beat of a batch
 * is from a different node, so without this every batch would update thousands of rows; with it
 * each node's row is written once per resolution period, and when only its beat moved, only the
 * beat columns are sent. Beats that pass are the only ones decoded in full. It is only a filter:
 * the upserts still compare with the stored row, so several instances (each with its own
 * memory) stay correct.
 */
export class NodeStateGate {
  private readonly written = new Map<string, Written>();

  constructor(private readonly resolutionMs: number) {}

  /** The updates a batch needs (the upsert orders them, so concurrent batches lock alike). */
  due(tuples: readonly HeartbeatTuple[]): NodeStateUpdate[] {
    const newest = new Map<string, HeartbeatTuple>();
    for (const t of tuples) {
      const w = this.written.get(t.subject);
      if (w && w.stateHash === t.stateHash && w.timeMs >= t.timeMs - this.resolutionMs) continue;
      const cur = newest.get(t.subject);
      if (!cur || t.timeMs > cur.timeMs || (t.timeMs === cur.timeMs && t.streamSeq > cur.streamSeq))
        newest.set(t.subject, t);
    }
    const out: NodeStateUpdate[] = [];
    for (const [key, t] of newest) {
      if (this.written.get(key)?.stateHash === t.stateHash) {
        out.push({
          row: beatFields(t),
          full: null,
          tuple: t,
          key,
          stateHash: t.stateHash,
          config: null,
        });
      } else {
        out.push(fullUpdate(t, key));
      }
    }
    return out;
  }

  /** After COMMIT: these rows are what node_state holds (or something newer). */
  remember(updates: readonly NodeStateUpdate[]): void {
    if (this.written.size > MAX_NODES) this.written.clear();
    for (const u of updates) {
      const w = this.written.get(u.key);
      if (w && w.timeMs > u.row.timeMs) continue;
      this.written.set(u.key, { timeMs: u.row.timeMs, stateHash: u.stateHash });
    }
  }
}

/** A full update of `t`'s node: the beat decoded in full, its config as JSON. */
export function fullUpdate(t: HeartbeatTuple, key: string = t.subject): NodeStateUpdate {
  const row = nodeStateRow(t);
  return { row, full: row, tuple: t, key, stateHash: t.stateHash, config: configJson(row) };
}

function beatFields(t: HeartbeatTuple): BeatFields {
  const { timeMs, group, node, seq, sentMs, streamSeq } = t;
  return { timeMs, group, node, seq, sentMs, streamSeq };
}
