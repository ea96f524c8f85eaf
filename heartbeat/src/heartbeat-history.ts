import type { JetStreamManager, StoredMsg } from "@nats-io/jetstream";
import type { HeartbeatValidator } from "./heartbeat-validator";
import type { TrackedHeartbeat } from "./node-liveness";

/** How far a look-up walks past heartbeats it cannot use (malformed, for another payload). */
const MAX_SKIPS = 20;

/**
 * Look-ups in stream KON_HB, the record of every heartbeat as the server received it. The monitor
 * asks it before declaring a node down and when it must judge a gap it did not see itself, so
 * that decisions rest on what reached the server, not on what reached this monitor.
 * Uses direct gets (`allow_direct` on the stream).
 */
export class HeartbeatHistory {
  constructor(
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
    private readonly validator: HeartbeatValidator,
  ) {}

  /** First usable heartbeat on `subject` after stream sequence `afterSeq`, or null. */
  async next(subject: string, afterSeq: number): Promise<TrackedHeartbeat | null> {
    let from = afterSeq + 1;
    for (let i = 0; i < MAX_SKIPS; i++) {
      const m = await this.jsm.direct.getMessage(this.stream, { seq: from, next_by_subj: subject });
      if (m === null) return null;
      const hb = this.decode(m);
      if (hb) return hb;
      from = m.seq + 1;
    }
    return null;
  }

  /** Last usable heartbeat on `subject` before stream sequence `beforeSeq`, or null. */
  async before(subject: string, beforeSeq: number): Promise<TrackedHeartbeat | null> {
    let upTo = beforeSeq - 1;
    for (let i = 0; i < MAX_SKIPS && upTo >= 1; i++) {
      // up_to_seq 0 would mean "no limit", hence the loop condition.
      const it = await this.jsm.direct.getLastMessagesFor(this.stream, {
        multi_last: [subject],
        up_to_seq: upTo,
      });
      const found = await firstOf(it);
      if (!found) return null;
      const hb = this.decode(found);
      if (hb) return hb;
      upTo = found.seq - 1;
    }
    return null;
  }

  /** Newest usable heartbeat on `subject`, or null. */
  async last(subject: string): Promise<TrackedHeartbeat | null> {
    const m = await this.jsm.direct.getMessage(this.stream, { last_by_subj: subject });
    if (m === null) return null;
    return this.decode(m) ?? this.before(subject, m.seq);
  }

  private decode(m: StoredMsg): TrackedHeartbeat | null {
    const r = this.validator.validate({
      subject: m.subject,
      data: m.data,
      seq: m.seq,
      atMs: m.time.getTime(),
    });
    return r.ok ? r.hb : null;
  }
}

/** The first message of a direct batch; a batch with no match ends empty or with a 404. */
async function firstOf(it: AsyncIterable<StoredMsg>): Promise<StoredMsg | undefined> {
  let found: StoredMsg | undefined;
  try {
    for await (const m of it) found ??= m;
  } catch (err) {
    if (!/no (message|results)|not found|404/i.test(String(err))) throw err;
  }
  return found;
}
