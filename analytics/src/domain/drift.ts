/** A node and the config revisions it reported in its last heartbeat. */
export interface NodeConfig {
  node: string;
  status: string;
  config: Record<
    string,
    { revision: number; sha256?: string; rejectedRevision?: number; pendingRevision?: number }
  >;
}

/** Nodes that run one revision of a key. */
export interface RevisionGroup {
  revision: number;
  /** The latest revision in KV. */
  current: boolean;
  nodes: string[];
  /** Nodes of this group that refused a newer revision (their schema failed it). */
  rejected: { node: string; rejectedRevision: number }[];
}

/** Drift of one key: which nodes run which revision against the latest in KV. */
export interface KeyDrift {
  key: string;
  latestRevision: number;
  latestSha256: string;
  inSync: number;
  drifted: number;
  revisions: RevisionGroup[];
  /** Nodes that report no revision of the key at all. */
  missing: string[];
  /**
   * The newest `config.published` event of the key in the config history (who and when), null
   * when there is none (written by a tool that sends no events, or older than its retention).
   * Present when the service keeps a config history.
   */
  lastPublished?: KeyChange | null;
  /** The newest `config.rejected` event of the key (loader or node), null when none. */
  lastRejection?: KeyChange | null;
}

/** A config event in the drift view, trimmed to what explains a key's state. */
export interface KeyChange {
  atMs: number;
  revision: number | null;
  author: string | null;
  gitCommit: string | null;
  publishedBy: string | null;
  changeSetId: string | null;
  /** Set for rejections by a node's schema. */
  nodeId: string | null;
  reason: string | null;
}

/** Drift of a group. */
export interface GroupDrift {
  group: string;
  /** False when the group has no config bucket. */
  bucket: boolean;
  keys: KeyDrift[];
  /** Keys some node reports that are not (or no longer) in KV, with those nodes. */
  unknownKeys: { key: string; nodes: string[] }[];
}

/**
 * Compares each node's reported revisions with the latest in KV. Only nodes given are counted;
 * the caller decides which (live ones, see the drift route).
 */
export function computeDrift(
  group: string,
  latest: readonly { key: string; revision: number; sha256: string }[] | undefined,
  nodes: readonly NodeConfig[],
): GroupDrift {
  const keys: KeyDrift[] = (latest ?? []).map((l) => {
    const byRev = new Map<number, RevisionGroup>();
    const missing: string[] = [];
    for (const n of nodes) {
      const r = n.config[l.key];
      if (!r) {
        missing.push(n.node);
        continue;
      }
      let g = byRev.get(r.revision);
      if (!g)
        byRev.set(
          r.revision,
          (g = {
            revision: r.revision,
            current: r.revision === l.revision,
            nodes: [],
            rejected: [],
          }),
        );
      g.nodes.push(n.node);
      if (r.rejectedRevision)
        g.rejected.push({ node: n.node, rejectedRevision: r.rejectedRevision });
    }
    const revisions = [...byRev.values()].sort((a, b) => b.revision - a.revision);
    const inSync = revisions.filter((g) => g.current).reduce((s, g) => s + g.nodes.length, 0);
    return {
      key: l.key,
      latestRevision: l.revision,
      latestSha256: l.sha256,
      inSync,
      drifted: nodes.length - inSync - missing.length,
      revisions,
      missing,
    };
  });
  const known = new Set((latest ?? []).map((l) => l.key));
  const unknown = new Map<string, string[]>();
  for (const n of nodes) {
    for (const key of Object.keys(n.config)) {
      if (known.has(key)) continue;
      unknown.set(key, [...(unknown.get(key) ?? []), n.node]);
    }
  }
  return {
    group,
    bucket: latest !== undefined,
    keys,
    unknownKeys: [...unknown]
      .map(([key, ns]) => ({ key, nodes: ns }))
      .sort((a, b) => a.key.localeCompare(b.key)),
  };
}

/** Adds each key's last published and last rejected event (see {@link KeyDrift.lastPublished}). */
export function withLastChanges<D extends { keys: { key: string }[] }>(
  drift: D,
  last: ReadonlyMap<string, { published?: KeyChangeSource; rejected?: KeyChangeSource }>,
): D {
  return {
    ...drift,
    keys: drift.keys.map((k) => {
      const l = last.get(k.key);
      return {
        ...k,
        lastPublished: l?.published ? keyChange(l.published) : null,
        lastRejection: l?.rejected ? keyChange(l.rejected) : null,
      };
    }),
  };
}

/** What {@link withLastChanges} reads from a stored config event. */
export type KeyChangeSource = Omit<KeyChange, "reason"> & { error: { reason: string } | null };

function keyChange(c: KeyChangeSource): KeyChange {
  return {
    atMs: c.atMs,
    revision: c.revision,
    author: c.author,
    gitCommit: c.gitCommit,
    publishedBy: c.publishedBy,
    changeSetId: c.changeSetId,
    nodeId: c.nodeId,
    reason: c.error?.reason ?? null,
  };
}
