import type { JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { BenchFleet } from "./bench-fleet";
import type { LagProbe } from "./lag-probe";

/** What a publishing phase did. */
export interface PublishOutcome {
  /** Messages the stream stored (its last sequence moved by this much), probes included. */
  readonly published: number;
  /** Messages sent that the stream did not store (its ingest queue overflowed). */
  readonly dropped: number;
  readonly probes: number;
  /** Date.now() of the first publish and of the last flush (the server had read everything). */
  readonly firstAtMs: number;
  readonly lastFlushAtMs: number;
}

/** Where the phase publishes, and how it knows what the stream stored. */
export interface PublishTarget {
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly stream: string;
}

/**
 * Heartbeats go out as the SDK heartbeat client sends them: core NATS publishes that the stream
 * captures (no per-message ack; nats.js' JetStream publish costs ~50 µs of CPU per message here,
 * which would cap the publisher far below the ingest). A flush every `flushEvery` messages keeps
 * the publisher from running ahead of the server; what the stream stored is read from its state.
 */
class Sender {
  sent = 0;
  probes = 0;
  private beats = 0;

  constructor(
    private readonly t: PublishTarget,
    private readonly fleet: BenchFleet,
    private readonly probe: LagProbe,
    private readonly o: { seqBase: number; probeEvery: number; flushEvery: number },
  ) {}

  async send(): Promise<void> {
    const m =
      (this.sent + 1) % this.o.probeEvery === 0
        ? (this.probes++, this.probe.next())
        : this.fleet.beat(this.beats++, this.o.seqBase, Date.now());
    this.t.nc.publish(m.subject, m.data);
    if (++this.sent % this.o.flushEvery === 0) await this.t.nc.flush();
  }
}

async function lastSeq(t: PublishTarget): Promise<number> {
  return (await t.jsm.streams.info(t.stream)).state.last_seq;
}

/** Waits until the stream stored `expected` more messages, or stopped growing for a second. */
async function stored(t: PublishTarget, before: number, expected: number): Promise<number> {
  let last = -1;
  let stableSince = Date.now();
  for (;;) {
    const n = (await lastSeq(t)) - before;
    if (n >= expected) return n;
    if (n !== last) [last, stableSince] = [n, Date.now()];
    else if (Date.now() - stableSince > 1000) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function outcome(
  t: PublishTarget,
  s: Sender,
  before: number,
  firstAtMs: number,
): Promise<PublishOutcome> {
  await t.nc.flush();
  const lastFlushAtMs = Date.now();
  const published = await stored(t, before, s.sent);
  return { published, dropped: s.sent - published, probes: s.probes, firstAtMs, lastFlushAtMs };
}

/** Publishes `count` heartbeats of the fleet as fast as one publisher goes. */
export async function publishBurst(
  t: PublishTarget,
  fleet: BenchFleet,
  probe: LagProbe,
  o: { count: number; seqBase: number; flushEvery: number; probeEvery: number },
): Promise<PublishOutcome> {
  const before = await lastSeq(t);
  const s = new Sender(t, fleet, probe, o);
  const firstAtMs = Date.now();
  while (s.sent < o.count) await s.send();
  return outcome(t, s, before, firstAtMs);
}

/**
 * Publishes at a steady `rate` per second for `seconds` (in 10 ms steps, catching up when a step
 * ran late): the load of a fleet beating at a fixed rate.
 */
export async function publishSteady(
  t: PublishTarget,
  fleet: BenchFleet,
  probe: LagProbe,
  o: { rate: number; seconds: number; seqBase: number; flushEvery: number; probeEvery: number },
): Promise<PublishOutcome> {
  const before = await lastSeq(t);
  const s = new Sender(t, fleet, probe, o);
  const firstAtMs = Date.now();
  const total = o.rate * o.seconds;
  while (s.sent < total) {
    const due = Math.min(total, Math.floor(((Date.now() - firstAtMs) / 1000) * o.rate));
    while (s.sent < due) await s.send();
    await t.nc.flush();
    await new Promise((r) => setTimeout(r, 10));
  }
  return outcome(t, s, before, firstAtMs);
}
