import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "../logger";
import { kvSubjectPrefix } from "../wire/names";
import { changeFromKvMessage } from "./kv-message";
import { entryOf, scheduledAt } from "./pending-activation";
import type { RawChange } from "./raw-change";
import type { ServerClock } from "./server-clock";

/** A (re)load split for scheduled activation. */
export interface ScheduledLoad {
  /** What is current now: scheduled values replaced by the revision they replace. */
  load: RawChange[];
  /** The scheduled values, delivered right after the load (they become pending). */
  scheduled: RawChange[];
}

/**
 * A node that loads a key whose newest value is scheduled for later must run the value it
 * replaces until the instant: the loader writes that revision into `previous_revision`, and it is
 * fetched here by sequence (one direct get). A key with no previous revision (new), or whose
 * previous revision is gone from the stream, has no value until the instant.
 */
export async function splitScheduledLoad(
  changes: RawChange[],
  clock: ServerClock,
  fetch: (revision: number) => Promise<RawChange | undefined>,
  logger: Logger,
): Promise<ScheduledLoad> {
  const out: ScheduledLoad = { load: [], scheduled: [] };
  for (const c of changes) {
    if (scheduledAt(c, clock) === 0) {
      out.load.push(c);
      continue;
    }
    out.scheduled.push(c);
    const prev = Number(entryOf(c)?.previousRevision ?? 0);
    const before = prev > 0 ? await fetch(prev).catch(() => undefined) : undefined;
    if (before && before.key === c.key) out.load.push(before);
    else if (prev > 0) {
      logger.warn(
        `config ${c.key}: revision ${c.revision} is scheduled, and the revision it replaces (${prev}) is no longer in the bucket; the key has no value until the instant`,
      );
    }
  }
  return out;
}

/** Fetches one revision of a config bucket by sequence (direct get). */
export function revisionFetcher(
  nc: NatsConnection,
  bucket: string,
): (revision: number) => Promise<RawChange | undefined> {
  // No account-info request up front: made here and awaited only later, its failure (a permission
  // error) was a rejection nobody handled, which ends the process.
  const jsm = jetstreamManager(nc, { checkAPI: false });
  const prefix = kvSubjectPrefix(bucket);
  return async (revision) => {
    const msg = await (await jsm).direct.getMessage(`KV_${bucket}`, { seq: revision });
    if (!msg) return undefined;
    return changeFromKvMessage(prefix, msg.subject, msg.header, msg.data, msg.seq);
  };
}
