import { configJson } from "./heartbeat-row";
import type { HeartbeatRow } from "./heartbeat-row";

/** A node's newest row of a batch, due for a node_state upsert. */
export interface NodeStateUpdate {
  row: HeartbeatRow;
  /**
   * The full config as JSON when the whole row is to be written (a node this process has not
   * written yet, or whose process, interval or config changed); null when only the beat moved.
   */
  config: string | null;
}

interface Written {
  timeMs: number;
  instanceId: string;
  intervalMs: number | null;
  config: HeartbeatRow["config"];
}

/** Beyond this many nodes the memory is dropped and rebuilt (a bound, not a working size). */
const MAX_NODES = 1_000_000;

/**
 * Decides which nodes of a batch need their node_state row written: the newest beat per node,
 * when the row this process last committed for it is older than the resolution or the process
 * or config changed. At 10,000 nodes × 1 Hz nearly every beat of a batch is from a different
 * node, so without this every batch would update thousands of rows; with it each node's row is
 * written once per resolution period, and when only its beat moved, only the beat columns are
 * sent (no config JSON to build, send and parse). It is only a filter: the upserts still compare
 * with the stored row, so several instances (each with its own memory) stay correct.
 */
export class NodeStateGate {
  private readonly written = new Map<string, Written>();

  constructor(private readonly resolutionMs: number) {}

  /** The updates a batch needs (the upsert orders them, so concurrent batches lock alike). */
  due(rows: readonly HeartbeatRow[]): NodeStateUpdate[] {
    const newest = new Map<string, HeartbeatRow>();
    for (const r of rows) {
      const key = `${r.group}\u0000${r.node}`;
      const cur = newest.get(key);
      if (!cur || r.timeMs > cur.timeMs || (r.timeMs === cur.timeMs && r.streamSeq > cur.streamSeq))
        newest.set(key, r);
    }
    const out: NodeStateUpdate[] = [];
    for (const [key, row] of newest) {
      const w = this.written.get(key);
      const same =
        w !== undefined &&
        w.instanceId === row.instanceId &&
        w.intervalMs === row.intervalMs &&
        sameConfig(w.config, row.config);
      if (!same) out.push({ row, config: configJson(row) });
      else if (w.timeMs < row.timeMs - this.resolutionMs) out.push({ row, config: null });
    }
    return out;
  }

  /** After COMMIT: these rows are what node_state holds (or something newer). */
  remember(updates: readonly NodeStateUpdate[]): void {
    if (this.written.size > MAX_NODES) this.written.clear();
    for (const { row } of updates) {
      const key = `${row.group}\u0000${row.node}`;
      const w = this.written.get(key);
      if (w && w.timeMs > row.timeMs) continue;
      this.written.set(key, {
        timeMs: row.timeMs,
        instanceId: row.instanceId,
        intervalMs: row.intervalMs,
        config: row.config,
      });
    }
  }
}

/** Field by field, so that no JSON is built for the nodes that need no update. */
function sameConfig(a: HeartbeatRow["config"], b: HeartbeatRow["config"]): boolean {
  let n = 0;
  for (const key in a) {
    const x = a[key]!;
    const y = b[key];
    if (
      !y ||
      Number(x.revision ?? 0) !== Number(y.revision ?? 0) ||
      (x.sha256 ?? "") !== (y.sha256 ?? "") ||
      Number(x.appliedAtMs ?? 0) !== Number(y.appliedAtMs ?? 0) ||
      Number(x.rejectedRevision ?? 0) !== Number(y.rejectedRevision ?? 0) ||
      Number(x.pendingRevision ?? 0) !== Number(y.pendingRevision ?? 0)
    ) {
      return false;
    }
    n++;
  }
  for (const _ in b) n--;
  return n === 0;
}
