import type { ConfigEventInit } from "@konorkestra/proto";
import type { Logger } from "@konorkestra/sdk";
import type { ConfigStore } from "./config-store";
import type { GroupSyncResult } from "./group-sync-result";

/**
 * Publishes a pass's config events. True when stored; a failure is counted in the result and
 * logged, never thrown (the KV write is the record).
 */
export async function publishSyncEvents(
  store: ConfigStore,
  logger: Logger,
  group: string,
  events: ConfigEventInit[],
  result: GroupSyncResult,
): Promise<boolean> {
  try {
    await store.publishEvents(group, events);
    return true;
  } catch (err) {
    result.eventErrors += events.length;
    logger.warn(
      `group ${group}: could not publish ${events.length} config event(s): ${String(err)}`,
    );
    return false;
  }
}
