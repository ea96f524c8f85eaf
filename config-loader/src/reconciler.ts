import type { CurrentEntry } from "./config-store";

/** What the tree says a key should hold. */
export interface DesiredValue {
  key: string;
  sha256: string;
}

/** Rules of a diff. */
export interface PlanRules {
  /** Keys whose file exists but was rejected, vanished mid-read or is unreadable: never deleted. */
  protectedKeys: ReadonlySet<string>;
  /** Keep keys that have no file (KON_KEEP_DELETED). */
  keepDeleted: boolean;
  /** False when the group could not be listed completely: deleting would be guessing. */
  allowDeletes: boolean;
}

/** The difference between the tree and the bucket. */
export interface GroupPlan<T extends DesiredValue> {
  /** New keys and keys whose sha256 differs, sorted by key. */
  puts: T[];
  /** Keys in the bucket without a file, sorted. */
  deletes: string[];
  /** Keys already holding the file's content. */
  unchanged: number;
  /** Keys without a file that were kept (flag or incomplete scan). */
  kept: string[];
}

/** Desired state vs current state → the change to write. Pure. */
export function planGroup<T extends DesiredValue>(
  desired: readonly T[],
  current: ReadonlyMap<string, CurrentEntry>,
  rules: PlanRules,
): GroupPlan<T> {
  const wanted = new Map(desired.map((d) => [d.key, d]));
  const puts = [...wanted.values()]
    .filter((d) => current.get(d.key)?.sha256 !== d.sha256)
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const deletes: string[] = [];
  const kept: string[] = [];
  for (const key of [...current.keys()].sort()) {
    if (wanted.has(key) || rules.protectedKeys.has(key)) continue;
    if (rules.keepDeleted || !rules.allowDeletes) kept.push(key);
    else deletes.push(key);
  }
  return { puts, deletes, unchanged: wanted.size - puts.length, kept };
}

/**
 * Cuts a change set into parts the server can write atomically (≤ `max` messages each). A
 * change set within the limit stays whole; a larger one becomes several sets with ids
 * `<id>.1of3` …, each atomic and each applied as a unit by the SDK. One id with a total size
 * spanning several batches would leave watchers waiting forever on a set the loader stopped
 * writing halfway (crash, NATS outage), so every part is a complete set of its own.
 */
export function splitChangeSet<M>(
  id: string,
  messages: readonly M[],
  max = 1000,
): { id: string; messages: M[] }[] {
  if (messages.length <= max) return [{ id, messages: [...messages] }];
  const parts = Math.ceil(messages.length / max);
  const out: { id: string; messages: M[] }[] = [];
  for (let i = 0; i < parts; i++) {
    out.push({ id: `${id}.${i + 1}of${parts}`, messages: messages.slice(i * max, (i + 1) * max) });
  }
  return out;
}
