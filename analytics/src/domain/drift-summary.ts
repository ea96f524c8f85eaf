import type { KeyChange } from "./drift";

/** Live nodes of a group that run one revision of a key (see FleetStore.revisionCounts). */
export interface RevisionTally {
  key: string;
  revision: number;
  /** Live nodes on this revision. */
  n: number;
  /** Of them, how many refused a newer revision. */
  rejected: number;
}

/** Drift of one key as counts: what `/v1/config/drift` says, without the node lists. */
export interface KeyDriftSummary {
  key: string;
  latestRevision: number;
  latestSha256: string;
  inSync: number;
  drifted: number;
  /** Live nodes that report no revision of the key. */
  missing: number;
  revisions: { revision: number; current: boolean; nodes: number; rejected: number }[];
  lastPublished?: KeyChange | null;
  lastRejection?: KeyChange | null;
}

/** Drift summary of a group. */
export interface GroupDriftSummary {
  group: string;
  bucket: boolean;
  /** Live nodes of the group (not down or left): what the counts are out of. */
  liveNodes: number;
  keys: KeyDriftSummary[];
  /** Keys some live node reports that are not in KV, with how many nodes report them. */
  unknownKeys: { key: string; nodes: number }[];
}

/**
 * The counts of `computeDrift` from per-revision tallies: the same inSync, drifted and missing
 * for every key, so a dashboard can show the fleet's drift without reading every node's record.
 */
export function summarizeDrift(
  group: string,
  latest: readonly { key: string; revision: number; sha256: string }[] | undefined,
  liveNodes: number,
  tallies: readonly RevisionTally[],
): GroupDriftSummary {
  const keys: KeyDriftSummary[] = (latest ?? []).map((l) => {
    const revisions = tallies
      .filter((t) => t.key === l.key)
      .map((t) => ({
        revision: t.revision,
        current: t.revision === l.revision,
        nodes: t.n,
        rejected: t.rejected,
      }))
      .sort((a, b) => b.revision - a.revision);
    const reporting = revisions.reduce((s, r) => s + r.nodes, 0);
    const inSync = revisions.filter((r) => r.current).reduce((s, r) => s + r.nodes, 0);
    return {
      key: l.key,
      latestRevision: l.revision,
      latestSha256: l.sha256,
      inSync,
      drifted: reporting - inSync,
      missing: liveNodes - reporting,
      revisions,
    };
  });
  const known = new Set((latest ?? []).map((l) => l.key));
  const unknown = new Map<string, number>();
  for (const t of tallies) {
    if (!known.has(t.key)) unknown.set(t.key, (unknown.get(t.key) ?? 0) + t.n);
  }
  return {
    group,
    bucket: latest !== undefined,
    liveNodes,
    keys,
    unknownKeys: [...unknown]
      .map(([key, nodes]) => ({ key, nodes }))
      .sort((a, b) => a.key.localeCompare(b.key)),
  };
}

/** A node of a page that runs something other than the latest revision of a key. */
export interface DriftedNode {
  group: string;
  node: string;
  keys: { key: string; revision: number | null; latestRevision: number }[];
}

/**
 * The live nodes of a page that drift: a key they run at another revision than the latest, or
 * do not report at all (as `computeDrift` counts them: drifted or missing).
 */
export function driftedOnPage(
  nodes: readonly {
    group: string;
    node: string;
    liveness: string;
    config: Record<string, { revision: number }>;
  }[],
  latestOf: ReadonlyMap<string, readonly { key: string; revision: number }[] | undefined>,
): DriftedNode[] {
  const out: DriftedNode[] = [];
  for (const n of nodes) {
    if (n.liveness === "down" || n.liveness === "left") continue;
    const keys = (latestOf.get(n.group) ?? [])
      .filter((l) => n.config[l.key]?.revision !== l.revision)
      .map((l) => ({
        key: l.key,
        revision: n.config[l.key]?.revision ?? null,
        latestRevision: l.revision,
      }));
    if (keys.length > 0) out.push({ group: n.group, node: n.node, keys });
  }
  return out;
}
