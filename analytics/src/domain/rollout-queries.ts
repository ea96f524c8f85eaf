import type { RolloutStore } from "../store/rollout-store";
import { computeRollout } from "./rollouts";
import type { LatestValue, Rollout } from "./rollouts";

/** Reads the key's current value (the group's bucket). */
export interface LatestValueReader {
  latestOf(group: string, key: string): Promise<LatestValue | undefined>;
}

/** The rollout of a key, from the stored events and the bucket (GET /v1/rollouts). */
export class RolloutQueries {
  constructor(
    private readonly store: RolloutStore,
    private readonly kv: LatestValueReader,
  ) {}

  /** Undefined when nothing at all is known of the key (no value, no event, no node). */
  async rollout(group: string, key: string, limit: number): Promise<Rollout | undefined> {
    const [facts, latest] = await Promise.all([
      this.store.facts(group, key, limit),
      this.kv.latestOf(group, key),
    ]);
    const rollout = computeRollout(group, key, facts, latest);
    return rollout.revisions.length === 0 ? undefined : rollout;
  }
}
