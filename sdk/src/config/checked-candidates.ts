/** A STRONG write's candidate that passed every schema of its key, as the state parsed it. */
export interface CheckedCandidate<S> {
  readonly sha256: string;
  readonly json: unknown;
  /** Parsed, deep-frozen value per schema slot. */
  readonly values: ReadonlyMap<S, unknown>;
}

/**
 * The last candidate per key that this process voted yes on. Its commit is a KV put of the same
 * payload, so when that arrives (sha256 recomputed from the delivered bytes and equal), the JSON
 * and schema parses of the vote are reused instead of being done a second time: a STRONG change
 * then costs the nodes no more at commit than an eventual one. Used once; a candidate whose write
 * was aborted is replaced by the key's next one. One entry per key at most.
 */
export class CheckedCandidates<S> {
  private readonly byKey = new Map<string, CheckedCandidate<S>>();

  remember(key: string, candidate: CheckedCandidate<S>): void {
    this.byKey.set(key, candidate);
  }

  /**
   * The candidate of `key` whose payload hashes to `sha256` and that was parsed by every schema
   * in `slots` (a schema attached since the vote has not seen it), removed; else undefined.
   */
  take(key: string, sha256: string, slots: Iterable<S>): CheckedCandidate<S> | undefined {
    const c = this.byKey.get(key);
    if (!c || c.sha256 !== sha256) return undefined;
    this.byKey.delete(key);
    for (const s of slots) if (!c.values.has(s)) return undefined;
    return c;
  }
}
