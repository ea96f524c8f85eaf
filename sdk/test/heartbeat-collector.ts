// Test helpers for the heartbeat integration tests: a real subscriber on the heartbeat subjects
// and a reader of stream KON_HB. Not a spec file (no `.test.ts`), so Jest does not run it.
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { Heartbeat, decodeMessage } from "@konorkestra/proto";
import type { TestClientOptions } from "@konorkestra/testkit";

/** Subscribes to `subject` (e.g. `kon.hb.g.>`) and keeps every decoded heartbeat. */
export class HeartbeatCollector {
  readonly beats: Heartbeat[] = [];
  readonly errors: unknown[] = [];

  private constructor(readonly nc: NatsConnection) {}

  static async start(client: TestClientOptions, subject: string): Promise<HeartbeatCollector> {
    const nc = await connect({ ...client, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const c = new HeartbeatCollector(nc);
    nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) c.errors.push(err);
        else c.beats.push(decodeMessage(Heartbeat, msg.data));
      },
    });
    await nc.flush();
    return c;
  }

  of(nodeId: string): Heartbeat[] {
    return this.beats.filter((b) => b.nodeId === nodeId);
  }

  /** Resolves once `pred` holds; fails after `timeoutMs` saying what it waited for. */
  async waitFor(what: string, pred: () => boolean, timeoutMs = 10_000): Promise<void> {
    await waitUntil(what, pred, timeoutMs);
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

export async function waitUntil(
  what: string,
  pred: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Every heartbeat stream `stream` holds on `subject`, in stream order. Right after a server
 * restart call it through {@link readStreamWhenUp}: nats.js 3.4 drops what a client sends while
 * it is reconnecting (each dial resets the outbound buffer), so a request then times out.
 */
export async function readStream(
  nc: NatsConnection,
  stream: string,
  subject: string,
): Promise<Heartbeat[]> {
  const jsm = await jetstreamManager(nc, { timeout: 1000 });
  const info = await jsm.streams.info(stream, { subjects_filter: subject });
  const count = info.state.subjects?.[subject] ?? 0;
  if (count === 0) return [];
  const consumer = await jetstream(nc).consumers.get(stream, { filter_subjects: [subject] });
  const out: Heartbeat[] = [];
  while (out.length < count) {
    const batch = await consumer.fetch({ max_messages: count - out.length, expires: 2000 });
    let got = 0;
    for await (const m of batch) {
      out.push(decodeMessage(Heartbeat, m.data));
      got++;
    }
    if (got === 0) throw new Error(`${stream} announced ${count} messages, fetched ${out.length}`);
  }
  return out;
}

/** {@link readStream}, retried until `pred` holds on the result (the reader may be reconnecting). */
export async function readStreamWhenUp(
  nc: NatsConnection,
  stream: string,
  subject: string,
  what: string,
  pred: (beats: Heartbeat[]) => boolean,
): Promise<Heartbeat[]> {
  let beats: Heartbeat[] = [];
  await waitUntil(what, async () => {
    beats = await readStream(nc, stream, subject).catch(() => []);
    return pred(beats);
  });
  return beats;
}
