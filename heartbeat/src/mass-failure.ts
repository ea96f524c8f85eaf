/** What the mass-failure rule needs to know about one node of a group. */
export interface GroupMember {
  alive: boolean;
  lastAtMs: number;
  intervalMs: number;
}

/** Verdict on one down. */
export interface MassFailureVerdict {
  suspect: boolean;
  /** Nodes of the group lost or overdue within the window, this one included. */
  affected: number;
  /** Nodes of the group alive at the start of the window. */
  population: number;
}

/**
 * Tells correlated downs from independent ones. A down is suspect when, within one TTL window,
 * more than `pct` % of its group's nodes were lost or are overdue (missed a beat by half an
 * interval): a partition between the nodes and NATS looks like that, a crashing node does not.
 * Counting overdue nodes, not only declared downs, marks the first downs of a mass failure as
 * suspect too, instead of only those after the threshold.
 */
export class MassFailureDetector {
  private readonly downs = new Map<string, number[]>();
  /** Group scan of the current sweep: a mass failure of 10,000 nodes must not scan 10,000 times. */
  private readonly scans = new Map<string, { nowMs: number; alive: number; overdue: number }>();

  constructor(
    private readonly pct: number,
    private readonly minNodes: number,
  ) {}

  /**
   * Records a down of `group` at `atMs` (event time) and judges it.
   * @param members the group's nodes as they are now (the one going down already not alive)
   */
  recordDown(
    group: string,
    atMs: number,
    windowMs: number,
    nowMs: number,
    members: Iterable<GroupMember>,
  ): MassFailureVerdict {
    const recent = (this.downs.get(group) ?? []).filter((t) => t > atMs - windowMs);
    recent.push(atMs);
    this.downs.set(group, recent);
    const { alive, overdue } = this.scan(group, nowMs, members);
    const population = alive + recent.length;
    const affected = recent.length + overdue;
    const suspect = population >= this.minNodes && affected * 100 > this.pct * population;
    return { suspect, affected, population };
  }

  private scan(
    group: string,
    nowMs: number,
    members: Iterable<GroupMember>,
  ): { alive: number; overdue: number } {
    const cached = this.scans.get(group);
    if (cached && cached.nowMs === nowMs) {
      // Same sweep: the node now going down was counted alive (and most likely overdue).
      cached.alive = Math.max(0, cached.alive - 1);
      cached.overdue = Math.max(0, cached.overdue - 1);
      return cached;
    }
    let alive = 0;
    let overdue = 0;
    for (const m of members) {
      if (!m.alive) continue;
      alive += 1;
      if (nowMs - m.lastAtMs > m.intervalMs * 1.5) overdue += 1;
    }
    const scan = { nowMs, alive, overdue };
    this.scans.set(group, scan);
    return scan;
  }
}
