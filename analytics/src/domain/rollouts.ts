/** A revision of a key as the config-loader published it. */
export interface PublishedRevision {
  revision: number;
  publishedAtMs: number;
  sha256: string;
}

/** What one live node of the group reports for the key. */
export interface NodeRollout {
  node: string;
  status: string;
  /** Revision it runs: its newest `config.applied`, else its last heartbeat's; null: none. */
  revision: number | null;
  /** When it applied `revision` (from the applied event); null when only a heartbeat said so. */
  appliedAtMs: number | null;
  /** A newer revision it holds but does not run yet (activate_at, strong commit). */
  pendingRevision: number | null;
  /** Newest revision its schema refused, and why. */
  rejectedRevision: number | null;
  rejectedReason: string | null;
}

/** Everything the rollout of one key is computed from (see RolloutStore). */
export interface RolloutFacts {
  /** Newest first. */
  published: PublishedRevision[];
  /** Live nodes of the group (not down, not left). */
  nodes: NodeRollout[];
  /** Per revision, each node's first apply. */
  firstApplies: Map<number, { node: string; atMs: number }[]>;
}

/** The key's value in KV now (the reference when no published event says more). */
export interface LatestValue {
  revision: number;
  sha256: string;
  /** ConfigEntry.updated_at_ms (0: unknown). */
  updatedAtMs: number;
}

/** Where a node that does not run a revision stands. */
export type LagState = "pending" | "refused" | "behind";

export interface LaggingNode {
  node: string;
  /** Revision it runs (null: none yet). */
  revision: number | null;
  state: LagState;
  /** For `refused`: the schema's reason. */
  reason: string | null;
}

/** Time from a revision's publish to each node's apply of it, in ms (nearest-rank percentiles). */
export interface Convergence {
  /** Nodes that applied it (live or not). */
  applied: number;
  p50Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
}

export interface RevisionRollout {
  revision: number;
  /** True for the newest revision of the key. */
  latest: boolean;
  /** From the `config.published` event, else the entry's own time for the value in KV; null. */
  publishedAtMs: number | null;
  sha256: string | null;
  /** Live nodes watching the key that run exactly this revision. */
  running: number;
  /** ... that hold it pending. */
  pending: number;
  /** ... whose schema refused it. */
  refused: number;
  /** ... that run an older revision (pending and refused included). */
  behind: number;
  /** True when no live watching node runs an older revision. */
  converged: boolean;
  convergence: Convergence;
  nodes: { running: string[]; pending: string[]; refused: string[] };
}

export interface Rollout {
  group: string;
  key: string;
  latestRevision: number | null;
  /** Live nodes of the group that watch the key (report a revision, a pending one or a refusal). */
  liveNodes: number;
  /** Newest first. */
  revisions: RevisionRollout[];
  /** Live watching nodes not on the latest revision. */
  behind: LaggingNode[];
  generatedAtMs: number;
}

/** Nearest-rank percentile of ascending `sorted`. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

function lagOf(n: NodeRollout, target: number): LaggingNode | undefined {
  const running = n.revision ?? 0;
  if (running >= target) return undefined;
  const state: LagState =
    n.pendingRevision === target
      ? "pending"
      : n.rejectedRevision !== null && n.rejectedRevision >= target
        ? "refused"
        : "behind";
  return {
    node: n.node,
    revision: n.revision,
    state,
    reason: state === "refused" ? n.rejectedReason : null,
  };
}

function convergence(
  applies: readonly { atMs: number }[] | undefined,
  publishedAtMs: number | null,
): Convergence {
  if (!applies || publishedAtMs === null) {
    return { applied: applies?.length ?? 0, p50Ms: null, p99Ms: null, maxMs: null };
  }
  const ms = applies.map((a) => Math.max(0, a.atMs - publishedAtMs)).sort((a, b) => a - b);
  return {
    applied: ms.length,
    p50Ms: percentile(ms, 50),
    p99Ms: percentile(ms, 99),
    maxMs: ms[ms.length - 1] ?? null,
  };
}

/**
 * The rollout of one key: per revision (published ones, and any a live node runs, holds or
 * refused), how many live nodes run it, hold it pending, refused it or are still below it, and
 * how long nodes took from its publish to applying it.
 */
export function computeRollout(
  group: string,
  key: string,
  facts: RolloutFacts,
  latest: LatestValue | undefined,
  nowMs = Date.now(),
): Rollout {
  const watchers = facts.nodes.filter(
    (n) => n.revision !== null || n.pendingRevision !== null || n.rejectedRevision !== null,
  );
  const byRev = new Map(facts.published.map((p) => [p.revision, p]));
  const revs = new Set<number>(byRev.keys());
  if (latest) revs.add(latest.revision);
  for (const n of watchers) {
    for (const r of [n.revision, n.pendingRevision, n.rejectedRevision]) if (r) revs.add(r);
  }
  const sorted = [...revs].sort((a, b) => b - a);
  const newest = latest?.revision ?? sorted[0] ?? null;
  const revisions = sorted.map((revision): RevisionRollout => {
    const pub = byRev.get(revision);
    const fromKv = latest?.revision === revision && latest.updatedAtMs > 0;
    const publishedAtMs = pub?.publishedAtMs ?? (fromKv ? latest.updatedAtMs : null);
    const lag = watchers.map((n) => lagOf(n, revision)).filter((l) => l !== undefined);
    const running = watchers.filter((n) => n.revision === revision).map((n) => n.node);
    const pick = (s: LagState): string[] => lag.filter((l) => l.state === s).map((l) => l.node);
    return {
      revision,
      latest: revision === newest,
      publishedAtMs,
      sha256: pub?.sha256 || (latest?.revision === revision ? latest.sha256 : null) || null,
      running: running.length,
      pending: pick("pending").length,
      refused: pick("refused").length,
      behind: lag.length,
      converged: lag.length === 0,
      convergence: convergence(facts.firstApplies.get(revision), publishedAtMs),
      nodes: { running, pending: pick("pending"), refused: pick("refused") },
    };
  });
  const behind =
    newest === null
      ? []
      : watchers.map((n) => lagOf(n, newest)).filter((l): l is LaggingNode => l !== undefined);
  return {
    group,
    key,
    latestRevision: newest,
    liveNodes: watchers.length,
    revisions,
    behind,
    generatedAtMs: nowMs,
  };
}
