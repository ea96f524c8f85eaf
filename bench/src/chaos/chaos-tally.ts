/**
 * The judgement of a fault drill, kept pure so that it can be tested without servers: what the
 * run saw goes in (saved config, what each node applied, node events, stream messages, table
 * rows), counts of what held and what did not come out.
 */

/** At most this many examples of a failure are kept for the report. */
const SAMPLES = 5;

const addSample = (list: string[], s: string): void => {
  if (list.length < SAMPLES) list.push(s);
};

/** One value a config node made current: the key's KV revision and the edit counter it carries. */
export interface ConfigObservation {
  readonly node: string;
  readonly key: string;
  readonly revision: number;
  /** The `v` the editor wrote into the file (strictly increasing per key). */
  readonly v: number;
}

/** Where a node (or the bucket itself) ended for a key; `v` undefined when it holds nothing. */
export interface ConfigFinal {
  readonly node: string;
  readonly key: string;
  readonly v: number | undefined;
}

export interface ConfigTally {
  /** (node, key) pairs judged at the end. */
  readonly pairs: number;
  /** Pairs that did not end on the last saved content. */
  readonly lost: number;
  /** Values made current, over all nodes and keys. */
  readonly observed: number;
  /** Values older than one the same node had already made current (revision or content). */
  readonly regressed: number;
  readonly samples: readonly string[];
}

/**
 * Every (node, key) must end on the last saved content, and no node may ever make current a
 * value older than one it already ran: a lower revision, or a lower edit counter (an older file
 * republished under a new revision is a regression too). `observations` are in arrival order.
 */
export function tallyConfig(
  lastSaved: ReadonlyMap<string, number>,
  finals: readonly ConfigFinal[],
  observations: readonly ConfigObservation[],
): ConfigTally {
  const samples: string[] = [];
  let lost = 0;
  for (const f of finals) {
    const want = lastSaved.get(f.key);
    if (f.v !== want) {
      lost++;
      addSample(samples, `${f.node} ${f.key}: ends on v${f.v ?? "-"}, last saved v${want ?? "-"}`);
    }
  }
  const newest = new Map<string, { revision: number; v: number }>();
  let regressed = 0;
  for (const o of observations) {
    const id = `${o.node} ${o.key}`;
    const prev = newest.get(id);
    if (prev && (o.revision < prev.revision || o.v < prev.v)) {
      regressed++;
      addSample(
        samples,
        `${id}: went back to rev ${o.revision} v${o.v} after rev ${prev.revision} v${prev.v}`,
      );
      continue;
    }
    newest.set(id, { revision: o.revision, v: o.v });
  }
  return { pairs: finals.length, lost, observed: observations.length, regressed, samples };
}

/** A node event as read back from KON_EVENTS. */
export interface NodeEventSeen {
  readonly eventId: string;
  readonly node: string;
  readonly kind: string;
  readonly detectedAtMs: number;
}

export interface DownTally {
  readonly killed: number;
  readonly live: number;
  /** Distinct down transitions seen (by event id). */
  readonly downs: number;
  /** Killed nodes with no down. */
  readonly missed: number;
  /** Downs beyond the one a killed node must get. */
  readonly doubled: number;
  /** Downs of nodes that were beating (never killed, or before their kill). */
  readonly invented: number;
  readonly samples: readonly string[];
}

/**
 * A node that was killed must get exactly one `node.down`, after its kill; a live node none.
 * Downs are counted by event id: the id names the transition, so two copies of one id (two
 * monitors, a replay) are one down, as analytics stores them.
 */
export function tallyDowns(
  nodes: readonly string[],
  killedAtMs: ReadonlyMap<string, number>,
  events: readonly NodeEventSeen[],
): DownTally {
  const samples: string[] = [];
  const seen = new Set<string>();
  const downsOf = new Map<string, number>();
  let invented = 0;
  for (const e of events) {
    if (e.kind !== "down" || seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    const killedAt = killedAtMs.get(e.node);
    if (killedAt === undefined || e.detectedAtMs < killedAt) {
      invented++;
      const when =
        killedAt === undefined ? "never killed" : `${killedAt - e.detectedAtMs} ms before its kill`;
      addSample(samples, `${e.node}: down ${e.eventId} (${when})`);
      continue;
    }
    downsOf.set(e.node, (downsOf.get(e.node) ?? 0) + 1);
  }
  let missed = 0;
  let doubled = 0;
  for (const node of killedAtMs.keys()) {
    const n = downsOf.get(node) ?? 0;
    if (n === 0) {
      missed++;
      addSample(samples, `${node}: killed, no down`);
    } else if (n > 1) {
      doubled += n - 1;
      addSample(samples, `${node}: killed, ${n} downs`);
    }
  }
  return {
    killed: killedAtMs.size,
    live: nodes.filter((n) => !killedAtMs.has(n)).length,
    downs: seen.size,
    missed,
    doubled,
    invented,
    samples,
  };
}

/** A stored heartbeat (a KON_HB message) or a heartbeat row, by stream sequence and time. */
export interface SeqTime {
  readonly seq: number;
  readonly timeMs: number;
}

export interface RowTally {
  /** Messages (stream side) judged. */
  readonly messages: number;
  readonly rows: number;
  /** Messages with no row. */
  readonly lost: number;
  /** Rows beyond the one a message must have. */
  readonly doubled: number;
  /** Rows that match no message (another time under the same sequence, or no such sequence). */
  readonly unmatched: number;
  readonly samples: readonly string[];
}

/**
 * Every KON_HB message must be exactly one `heartbeats` row: same stream sequence, same stream
 * time (to the millisecond; the row keeps microseconds, the stream nanoseconds). A row with a
 * known sequence but another time would be a row of a message the stream no longer has.
 */
export function tallyHeartbeatRows(
  messages: readonly SeqTime[],
  rows: readonly SeqTime[],
): RowTally {
  const samples: string[] = [];
  const timeOf = new Map<number, number>();
  for (const m of messages) timeOf.set(m.seq, m.timeMs);
  const matched = new Map<number, number>();
  let unmatched = 0;
  for (const r of rows) {
    const t = timeOf.get(r.seq);
    if (t === undefined || Math.abs(t - r.timeMs) > 1) {
      unmatched++;
      addSample(samples, `row seq ${r.seq} at ${r.timeMs}: no such message`);
      continue;
    }
    matched.set(r.seq, (matched.get(r.seq) ?? 0) + 1);
  }
  let lost = 0;
  let doubled = 0;
  for (const m of messages) {
    const n = matched.get(m.seq) ?? 0;
    if (n === 0) {
      lost++;
      addSample(samples, `message seq ${m.seq}: no row`);
    } else if (n > 1) {
      doubled += n - 1;
      addSample(samples, `message seq ${m.seq}: ${n} rows`);
    }
  }
  return { messages: messages.length, rows: rows.length, lost, doubled, unmatched, samples };
}

/**
 * Every event in KON_EVENTS must be exactly one row, by event id (the rows' key with the event's
 * time; copies of one id in the stream are one event). `rowIds` has one entry per row.
 */
export function tallyEventRows(streamIds: readonly string[], rowIds: readonly string[]): RowTally {
  const samples: string[] = [];
  const events = new Set(streamIds);
  const rowsOf = new Map<string, number>();
  let unmatched = 0;
  for (const id of rowIds) {
    if (!events.has(id)) {
      unmatched++;
      addSample(samples, `row ${id}: no such event`);
      continue;
    }
    rowsOf.set(id, (rowsOf.get(id) ?? 0) + 1);
  }
  let lost = 0;
  let doubled = 0;
  for (const id of events) {
    const n = rowsOf.get(id) ?? 0;
    if (n === 0) {
      lost++;
      addSample(samples, `event ${id}: no row`);
    } else if (n > 1) {
      doubled += n - 1;
      addSample(samples, `event ${id}: ${n} rows`);
    }
  }
  return { messages: events.size, rows: rowIds.length, lost, doubled, unmatched, samples };
}
